using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace XaiLab.Imaging.Models;

/// <summary>
/// Reads PyTorch weight files — <c>torch.save</c> state dicts (the zip format of PyTorch ≥ 1.6, read by TorchSharp.PyBridge)
/// and <c>.safetensors</c> — and copies them into modules with every name and shape checked, so that a wrong file
/// fails with a message naming the file and the parameter rather than deep inside libtorch.
/// </summary>
public static class StateDicts
{
    /// <summary>
    /// Reads a state dict: <c>.safetensors</c> by extension, anything else as a <c>torch.save</c> zip file. A checkpoint
    /// that wraps its weights (<c>{"state_dict": {…}}</c> or <c>{"model": {…}}</c>) is unwrapped.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a state dict this reader understands; the message names it and says how to convert it.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weight file not found: {path}", path);
        Devices.EnsureNativeLoaded();
        try
        {
            if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                return Safetensors.LoadStateDict(path);
            return FromHashtable(PyTorchUnpickler.UnpickleStateDict(path), path);
        }
        catch (Exception e) when (e is not InvalidDataException and not FileNotFoundException)
        {
            throw new InvalidDataException(
                $"{path}: not a readable PyTorch state dict ({e.GetType().Name}: {e.Message}). Expected a torch.save zip file (PyTorch ≥ 1.6) or .safetensors; " +
                "legacy files such as TorchRay's .pth.tar are converted by data-scripts/fetch-weights.sh.", e);
        }
    }

    static Dictionary<string, Tensor> FromHashtable(Hashtable table, string path)
    {
        foreach (var wrapper in new[] { "state_dict", "model" })
            if (table.Count <= 3 && table[wrapper] is Hashtable inner) return FromHashtable(inner, path);
        var dict = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry e in table)
        {
            var key = e.Key?.ToString() ?? throw new InvalidDataException($"{path}: a state-dict entry has no name.");
            if (e.Value is Tensor t) dict[key] = t;
            else throw new InvalidDataException($"{path}: entry '{key}' is a {e.Value?.GetType().Name ?? "null"}, not a tensor: not a plain state dict.");
        }
        return dict;
    }

    /// <summary>
    /// Copies <paramref name="state"/> into <paramref name="module"/> (under <c>no_grad</c>). Every parameter and buffer
    /// of the module must be present with its exact shape, except <c>num_batches_tracked</c> counters, which old files lack;
    /// with <paramref name="strict"/>, entries the module does not have are errors too.
    /// </summary>
    /// <param name="source">Names the file in messages.</param>
    /// <exception cref="InvalidDataException">A missing, unexpected or wrongly shaped entry; the message names the file and the entries.</exception>
    /// <param name="module">The module whose parameters and buffers are overwritten.</param>
    /// <param name="state">Tensors by state-dict name (e.g. <c>layer1.0.conv1.weight</c>).</param>
    /// <param name="strict">Whether entries the module lacks are errors (else they are ignored).</param>
    public static void LoadInto(nn.Module module, IReadOnlyDictionary<string, Tensor> state, string source, bool strict = true)
    {
        var target = module.state_dict();
        var missing = target.Keys.Where(k => !state.ContainsKey(k) && !k.EndsWith("num_batches_tracked")).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"{source}: missing {missing.Length} entr{(missing.Length == 1 ? "y" : "ies")} the model needs: {Names(missing)}.");
        var unexpected = state.Keys.Where(k => !target.ContainsKey(k)).ToArray();
        if (strict && unexpected.Length > 0)
            throw new InvalidDataException($"{source}: {unexpected.Length} entr{(unexpected.Length == 1 ? "y" : "ies")} the model does not have: {Names(unexpected)}.");
        foreach (var (name, t) in target)
        {
            if (!state.TryGetValue(name, out var src)) continue;
            if (!src.shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"{source}: parameter '{name}' has shape [{string.Join(",", src.shape)}] in the file, but the model needs [{string.Join(",", t.shape)}].");
        }
        using var _ = no_grad();
        foreach (var (name, t) in target)
            if (state.TryGetValue(name, out var src))
                t.copy_(src.to(t.dtype).to(t.device));
    }

    /// <summary>Reads <paramref name="path"/> and loads it into <paramref name="module"/> (see <see cref="Read"/>, <see cref="LoadInto"/>).</summary>
    public static void Load(nn.Module module, string path, bool strict = true)
    {
        var state = Read(path);
        try { LoadInto(module, state, path, strict); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    static string Names(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(8).Select(n => $"'{n}'")) + (names.Count > 8 ? $" … ({names.Count - 8} more)" : "");
}
