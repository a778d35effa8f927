using Bmojo.Cli.Models;
using Bmojo.Cli.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>
/// A model's weights in a safetensors file under their state-dict names (<c>backbone.embedding.weight</c>, ...):
/// what <c>bmojo import</c> writes, and the weights part of every training checkpoint (LM or MQAR), whose other
/// tensors (optimizer moments, generator state) are ignored here.
/// </summary>
public static class ModelWeights
{
    public const string Format = "bmojo-weights/1";

    /// <summary>Writes the state dict of <paramref name="module"/> in fp32, atomically.</summary>
    public static void Save(string path, ModelDefinition definition, nn.Module module, IReadOnlyDictionary<string, string>? extra = null)
    {
        using var scope = NewDisposeScope();
        var tensors = module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to_type(ScalarType.Float32).cpu());
        var metadata = new Dictionary<string, string> { ["format"] = Format, ["model"] = definition.Name };
        if (extra is not null)
            foreach ((string key, string value) in extra) metadata[key] = value;
        WriteAtomically(path, tensors, metadata);
    }

    /// <summary>Copies the weights of <paramref name="path"/> into <paramref name="module"/>; a missing tensor, a shape
    /// that differs, or a file of another model is a <see cref="UserError"/>.</summary>
    public static void Load(string path, ModelDefinition definition, nn.Module module)
    {
        if (!File.Exists(path)) throw new UserError($"checkpoint '{path}' does not exist");
        Dictionary<string, Tensor> tensors;
        Dictionary<string, string> metadata;
        try
        {
            (tensors, metadata) = SafeTensors.Read(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new UserError($"checkpoint '{path}' is corrupt: {e.Message}");
        }
        try
        {
            if (metadata.GetValueOrDefault("model") is string model && model != definition.Name)
                throw new UserError($"checkpoint '{path}' holds a {model}, not a {definition.Name}");
            using var noGrad = no_grad();
            var missing = new List<string>();
            foreach ((string name, Tensor target) in module.state_dict())
            {
                if (!tensors.TryGetValue(name, out Tensor? source))
                {
                    missing.Add(name);
                    continue;
                }
                if (!source.shape.SequenceEqual(target.shape))
                    throw new UserError($"checkpoint '{path}': tensor '{name}' is [{string.Join(", ", source.shape)}], " +
                                        $"{definition.Name} needs [{string.Join(", ", target.shape)}]");
                target.copy_(source.to_type(target.dtype));
            }
            if (missing.Count > 0)
                throw new UserError($"checkpoint '{path}' lacks {missing.Count} tensor(s) of {definition.Name}: {string.Join(", ", missing.Take(5))}" +
                                    (missing.Count > 5 ? ", ..." : ""));
        }
        finally
        {
            foreach (Tensor t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>A temporary file, flushed to disk, then renamed over <paramref name="path"/>.</summary>
    public static void WriteAtomically(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            SafeTensors.Write(stream, tensors, metadata);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
