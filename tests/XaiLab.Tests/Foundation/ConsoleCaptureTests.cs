namespace XaiLab.Tests.Foundation;

/// <summary><see cref="ConsoleCapture"/>: each call sees its own console output only, also when many run at once.</summary>
[Trait("Category", "Unit")]
public class ConsoleCaptureTests
{
    [Fact]
    public void ConcurrentCapturesSeeOnlyTheirOwnOutput()
    {
        var results = new (int K, string Out, string Err)[8];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, k =>
        {
            var (r, o, e) = ConsoleCapture.Run(() =>
            {
                for (int i = 0; i < 200; i++) { Console.WriteLine($"out {k}.{i}"); Console.Error.Write($"err {k}.{i};"); }
                // output of tasks started inside the capture belongs to it too
                Task.Run(() => Console.WriteLine($"task {k}")).Wait();
                return k;
            });
            results[k] = (r, o, e);
        });
        for (int k = 0; k < 8; k++)
        {
            var (r, o, e) = results[k];
            Assert.Equal(k, r);
            var lines = o.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(Enumerable.Range(0, 200).Select(i => $"out {k}.{i}").Append($"task {k}"), lines);
            Assert.Equal(string.Concat(Enumerable.Range(0, 200).Select(i => $"err {k}.{i};")), e);
        }
    }

    [Fact]
    public void NestedCaptureRestoresTheOuterOne()
    {
        var (_, outer, _) = ConsoleCapture.Run(() =>
        {
            Console.Write("a");
            var (_, inner, _) = ConsoleCapture.Run(() => { Console.Write("b"); return 0; });
            Assert.Equal("b", inner);
            Console.Write("c");
            return 0;
        });
        Assert.Equal("ac", outer);
    }
}
