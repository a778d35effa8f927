using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Cli.Training;

/// <summary>
/// A training run's whole state in one safetensors file. Model weights keep their state-dict names (so
/// <c>safetensors.torch.load_file</c> + <c>load_state_dict</c> works in PyTorch after dropping the other keys);
/// AdamW's moments and step count are <c>optimizer.{param}.exp_avg|exp_avg_sq|step</c>; torch's generator state
/// is <c>rng.torch</c>; the step, the data stream's state and the run's options are string metadata.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public const string Format = "bmojo-checkpoint/1";
    private const string OptimizerPrefix = "optimizer.";
    private const string TorchRngKey = "rng.torch";

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    private readonly Dictionary<string, Tensor> tensors;
    private readonly string path;

    private Checkpoint(string path, Dictionary<string, Tensor> tensors, TrainingOptions options, int step, DataRng data)
    {
        this.path = path;
        this.tensors = tensors;
        Options = options;
        Step = step;
        Data = data;
    }

    public TrainingOptions Options { get; }

    public int Step { get; }

    public DataRng Data { get; }

    /// <param name="precision">What the run computed in (metadata only: the tensors are written fp32 and on the CPU,
    /// so a checkpoint of a bf16 run on CUDA evaluates and resumes anywhere, in either precision).</param>
    public static void Write(string path, ModelDefinition definition, TrainingOptions options, int step, DataRng data,
                             nn.Module module, AdamW optimizer, IReadOnlyList<string> optimizerNames, Precision precision = Precision.Fp32)
    {
        using var scope = NewDisposeScope();
        var tensors = module.state_dict().ToDictionary(kv => kv.Key, kv => Portable(kv.Value));
        IList<OptimizerState> states = optimizer.state_dict().State;
        for (int i = 0; i < optimizerNames.Count; i++)
        {
            var state = (AdamW.State)states[i];
            string prefix = OptimizerPrefix + optimizerNames[i];
            tensors[prefix + ".exp_avg"] = Portable(state.exp_avg);
            tensors[prefix + ".exp_avg_sq"] = Portable(state.exp_avg_sq);
            tensors[prefix + ".step"] = tensor(state.step);
        }
        tensors[TorchRngKey] = random.get_rng_state();
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["model"] = definition.Name,
            ["parameter_count"] = definition.ParameterCount.ToString(CultureInfo.InvariantCulture),
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            ["data_rng"] = data.State,
            ["options"] = JsonSerializer.Serialize(options, Json),
            ["precision"] = precision.ToString().ToLowerInvariant(),
        };
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            SafeTensors.Write(stream, tensors, metadata);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads and validates a checkpoint of <paramref name="definition"/>; every problem is a <see cref="UserError"/>.</summary>
    public static Checkpoint Read(string path, ModelDefinition definition)
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
            if (metadata.GetValueOrDefault("format") != Format)
                throw new UserError($"'{path}' is a safetensors file but not a bmojo training checkpoint (no format '{Format}')");
            if (metadata.GetValueOrDefault("model") is string model && model != definition.Name)
                throw new UserError($"checkpoint '{path}' holds a {model}, not a {definition.Name}");
            TrainingOptions options = JsonSerializer.Deserialize<TrainingOptions>(metadata.GetValueOrDefault("options") ?? "null", Json)
                                      ?? throw new UserError($"checkpoint '{path}' is corrupt: no training options");
            if (!int.TryParse(metadata.GetValueOrDefault("step"), NumberStyles.None, CultureInfo.InvariantCulture, out int step))
                throw new UserError($"checkpoint '{path}' is corrupt: no step count");
            DataRng data = DataRng.FromState(metadata.GetValueOrDefault("data_rng") ?? "");
            return new Checkpoint(path, tensors, options, step, data);
        }
        catch (Exception e) when (e is JsonException or FormatException or UserError)
        {
            foreach (Tensor t in tensors.Values) t.Dispose();
            throw e as UserError ?? new UserError($"checkpoint '{path}' is corrupt: {e.Message}");
        }
    }

    /// <summary>Loads the weights, the optimizer state and torch's generator into a freshly built run.</summary>
    public void Restore(nn.Module module, AdamW optimizer, IReadOnlyList<string> optimizerNames)
    {
        using var noGrad = no_grad();
        foreach ((string name, Tensor target) in module.state_dict())
            CopyInto(name, target);
        IList<OptimizerState> states = optimizer.state_dict().State;
        for (int i = 0; i < optimizerNames.Count; i++)
        {
            var state = (AdamW.State)states[i];
            string prefix = OptimizerPrefix + optimizerNames[i];
            CopyInto(prefix + ".exp_avg", state.exp_avg);
            CopyInto(prefix + ".exp_avg_sq", state.exp_avg_sq);
            state.step = Get(prefix + ".step").item<long>();
        }
        random.set_rng_state(Get(TorchRngKey));
    }

    public void Dispose()
    {
        foreach (Tensor t in tensors.Values) t.Dispose();
    }

    private Tensor Get(string name) =>
        tensors.TryGetValue(name, out Tensor? t) ? t : throw new UserError($"checkpoint '{path}' lacks tensor '{name}'");

    /// <summary>A tensor as a checkpoint holds it: on the CPU, floating point in fp32.</summary>
    private static Tensor Portable(Tensor t)
    {
        Tensor cpu = t.detach().cpu();
        return cpu.is_floating_point() && cpu.dtype != ScalarType.Float32 ? cpu.to_type(ScalarType.Float32) : cpu;
    }

    /// <summary>Copies a saved tensor into the run's (which may be bf16, or on CUDA): floating tensors convert, any
    /// other difference of dtype or shape is an error.</summary>
    private void CopyInto(string name, Tensor target)
    {
        Tensor source = Get(name);
        bool convertible = source.dtype == target.dtype || (source.is_floating_point() && target.is_floating_point());
        if (!source.shape.SequenceEqual(target.shape) || !convertible)
            throw new UserError($"checkpoint '{path}': tensor '{name}' is {source.dtype} [{string.Join(", ", source.shape)}], " +
                                $"the model needs {target.dtype} [{string.Join(", ", target.shape)}]");
        target.copy_(source);
    }
}
