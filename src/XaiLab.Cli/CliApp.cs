namespace XaiLab.Cli;

public static class CliApp
{
    public static int Run(string[] args) { Console.WriteLine("xailab"); return 0; }
}
