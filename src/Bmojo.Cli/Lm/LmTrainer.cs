using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Bmojo.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>One language-modelling step's numbers.</summary>
public readonly record struct LmStep(int Step, double Loss, double LearningRate, long Tokens, TimeSpan Elapsed);

/// <summary>Held-out loss (mean NLL, nats per token) and perplexity at the training length.</summary>
public readonly record struct LmValidation(int Step, double Loss, double Perplexity, long Tokens);

/// <summary>
/// Trains a model on next-token prediction over a <see cref="TokenSplit"/>: AdamW (two groups, as the MQAR trainer),
/// warm-up + cosine, gradient clipping, cross-entropy on every position (+ the model's auxiliary loss). The batches
/// come from the run's own seeded stream, so a resumed run repeats an uninterrupted one (same machine and threads).
/// </summary>
public sealed class LmTrainer : IDisposable
{
    public const string CheckpointFormat = "bmojo-lm-checkpoint/1";
    private const string OptimizerPrefix = "optimizer.";
    private const string TorchRngKey = "rng.torch";

    private readonly AdamW optimizer;
    private readonly IReadOnlyList<string> optimizerNames;
    private readonly TokenSplit split;
    private readonly string dataFingerprint;
    private DataRng data;

    private LmTrainer(ModelDefinition definition, LmOptions options, TokenFile tokens, Device device, ScalarType dtype)
    {
        if (options.Check() is string problem) throw new UserError(problem);
        TextTokenizer tokenizer = TextTokenizer.Named(options.Tokenizer);
        if (tokenizer.CheckVocab(definition.Settings) is string vocab) throw new UserError(vocab);
        if (tokens.Info.Tokenizer != tokenizer.Name)
            throw new UserError($"the token file {tokens.Path} was made by the {tokens.Info.Tokenizer} tokenizer, the run uses {tokenizer.Name}");
        split = new TokenSplit(tokens, options.HeldOut);
        if (split.Check(options.SeqLen) is string small) throw new UserError($"--seq-len {options.SeqLen}: {small}");
        Definition = definition;
        Options = options;
        Tokens = tokens;
        dataFingerprint = tokens.Info.Fingerprint;
        random.manual_seed(options.Seed);
        nn.Module<Tensor, Tensor> built = definition.Create();
        if (device.type != DeviceType.CPU) built.to(device);
        if (dtype != ScalarType.Float32) built.to(dtype);
        Model = new LmModel(definition, built);
        (optimizer, optimizerNames) = ParameterGroups.AdamW(Model.Module, options.LearningRate, options.WeightDecay);
        data = new DataRng(unchecked((ulong)options.Seed ^ 0x1A_0000_0000_0000UL));
    }

    public ModelDefinition Definition { get; }

    public LmOptions Options { get; }

    public TokenFile Tokens { get; }

    public TokenSplit Split => split;

    public LmModel Model { get; }

    public int Step { get; private set; }

    public bool Finished => Step >= Options.Steps;

    public static LmTrainer Start(ModelDefinition definition, LmOptions options, TokenFile tokens, Device? device = null, ScalarType dtype = ScalarType.Float32) =>
        new(definition, options, tokens, device ?? CPU, dtype);

    /// <summary>The options saved in an LM checkpoint (to open its data before <see cref="Resume"/>).</summary>
    public static LmOptions ReadOptions(string path)
    {
        Dictionary<string, string> metadata = ReadMetadata(path);
        return JsonSerializer.Deserialize<LmOptions>(metadata.GetValueOrDefault("options") ?? "null")
               ?? throw new UserError($"checkpoint '{path}' is corrupt: no training options");
    }

    /// <summary>Continues the run saved in <paramref name="path"/>; its data must be the token file it trained on.</summary>
    public static LmTrainer Resume(string path, ModelDefinition definition, TokenFile tokens, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        Dictionary<string, string> metadata = ReadMetadata(path);
        if (metadata.GetValueOrDefault("model") is string model && model != definition.Name)
            throw new UserError($"checkpoint '{path}' holds a {model}, not a {definition.Name}");
        if (metadata.GetValueOrDefault("data") is string fingerprint && fingerprint != tokens.Info.Fingerprint)
            throw new UserError($"checkpoint '{path}' was trained on other data than {tokens.Path} (its sources changed or differ); " +
                                "resume with the same --data");
        if (!int.TryParse(metadata.GetValueOrDefault("step"), NumberStyles.None, CultureInfo.InvariantCulture, out int step))
            throw new UserError($"checkpoint '{path}' is corrupt: no step count");
        var trainer = new LmTrainer(definition, ReadOptions(path), tokens, device ?? CPU, dtype);
        (Dictionary<string, Tensor> tensors, _) = SafeTensors.Read(path);
        try
        {
            using var noGrad = no_grad();
            ModelWeights.Load(path, definition, trainer.Model.Module);
            IList<OptimizerState> states = trainer.optimizer.state_dict().State;
            for (int i = 0; i < trainer.optimizerNames.Count; i++)
            {
                var state = (AdamW.State)states[i];
                string prefix = OptimizerPrefix + trainer.optimizerNames[i];
                Copy(tensors, path, prefix + ".exp_avg", state.exp_avg);
                Copy(tensors, path, prefix + ".exp_avg_sq", state.exp_avg_sq);
                state.step = Get(tensors, path, prefix + ".step").item<long>();
            }
            random.set_rng_state(Get(tensors, path, TorchRngKey));
            trainer.Step = step;
            trainer.data = DataRng.FromState(metadata.GetValueOrDefault("data_rng") ?? "");
            return trainer;
        }
        catch (Exception e)
        {
            trainer.Dispose();
            if (e is FormatException) throw new UserError($"checkpoint '{path}' is corrupt: {e.Message}");
            throw;
        }
        finally
        {
            foreach (Tensor t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Weights (fp32, state-dict names), optimizer moments, generator state, step, options: atomically.</summary>
    public void Save(string path)
    {
        using var scope = NewDisposeScope();
        var tensors = Model.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to_type(ScalarType.Float32).cpu());
        IList<OptimizerState> states = optimizer.state_dict().State;
        for (int i = 0; i < optimizerNames.Count; i++)
        {
            var state = (AdamW.State)states[i];
            string prefix = OptimizerPrefix + optimizerNames[i];
            tensors[prefix + ".exp_avg"] = state.exp_avg.detach().to_type(ScalarType.Float32).cpu();
            tensors[prefix + ".exp_avg_sq"] = state.exp_avg_sq.detach().to_type(ScalarType.Float32).cpu();
            tensors[prefix + ".step"] = tensor(state.step);
        }
        tensors[TorchRngKey] = random.get_rng_state();
        var metadata = new Dictionary<string, string>
        {
            ["format"] = CheckpointFormat,
            ["model"] = Definition.Name,
            ["parameter_count"] = Definition.ParameterCount.ToString(CultureInfo.InvariantCulture),
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["data_rng"] = data.State,
            ["data"] = dataFingerprint,
            ["tokenizer"] = Options.Tokenizer,
            ["options"] = JsonSerializer.Serialize(Options),
        };
        ModelWeights.WriteAtomically(path, tensors, metadata);
    }

    /// <summary>Gradient accumulation (<c>--grad-accum N</c>): each step's batch runs as N micro-batches of about B/N
    /// sequences, each mean loss weighted by its share of the rows (every row has L tokens; the auxiliary loss by 1/N),
    /// so the summed gradient, its clipping and the update are the whole batch's. Not part of a checkpoint. Default 1.</summary>
    public int Accumulation
    {
        get => accumulation;
        set
        {
            accumulation = TrainingOptions.CheckAccumulation(value, Options.Batch);
        }
    }

    private int accumulation = 1;

    public LmStep TrainStep()
    {
        if (Finished) throw new InvalidOperationException($"the run already took its {Options.Steps} steps");
        var clock = Stopwatch.StartNew();
        LmBatch batch = split.Sample(data, Options.Batch, Options.SeqLen);
        double lr = Options.LearningRateAt(Step);
        foreach (optim.ILearningRateController group in optimizer.ParamGroups) group.LearningRate = lr;

        using var scope = NewDisposeScope();
        Model.Module.train();
        optimizer.zero_grad();
        double value;
        int parts = Math.Min(accumulation, batch.Batch);
        if (parts == 1)
        {
            (Tensor inputs, Tensor targets) = batch.ToTensors(Model.Device);
            Tensor logits = Model.Forward(inputs);
            Tensor loss = Perplexity.TokenNll(logits, targets).mean();
            Tensor total = Model.AuxLoss is Tensor aux ? loss + aux.to_type(loss.dtype) : loss;
            total.backward();
            value = loss.item<float>();
        }
        else
        {
            value = 0;
            int length = batch.Length;
            for (int i = 0; i < parts; i++)
            {
                using var microScope = NewDisposeScope();
                Bmojo.Distributed.BatchShard part = Bmojo.Distributed.BatchShard.Of(batch.Batch, i, parts);
                var micro = new LmBatch(batch.Inputs[(part.Start * length)..(part.End * length)], batch.Targets[(part.Start * length)..(part.End * length)],
                                        part.Count, length);
                double share = (double)part.Count / batch.Batch;
                (Tensor inputs, Tensor targets) = micro.ToTensors(Model.Device);
                Tensor logits = Model.Forward(inputs);
                Tensor loss = Perplexity.TokenNll(logits, targets).mean();
                Tensor total = loss * share;
                if (Model.AuxLoss is Tensor aux) total = total + aux.to_type(loss.dtype) / parts;
                total.backward();
                value += loss.item<float>() * share;
            }
        }
        if (Options.GradClip > 0) nn.utils.clip_grad_norm_(Model.Module.parameters(), Options.GradClip);
        optimizer.step();
        Step++;
        return new LmStep(Step, value, lr, Options.TokensPerStep, clock.Elapsed);
    }

    /// <summary>Mean NLL and perplexity on <see cref="LmOptions.EvalSequences"/> held-out sequences of length L (the
    /// same sequences at every validation).</summary>
    public LmValidation Validate()
    {
        Model.Module.eval();
        var meter = new Perplexity();
        using (no_grad())
        {
            foreach (LmBatch batch in split.HeldOutBatches(Options.SeqLen, Options.Batch, Options.EvalSequences))
            {
                using var scope = NewDisposeScope();
                (Tensor inputs, Tensor targets) = batch.ToTensors(Model.Device);
                meter.Add(Perplexity.TokenNll(Model.Forward(inputs), targets));
            }
        }
        Model.Module.train();
        return new LmValidation(Step, meter.MeanNll, meter.Value, meter.Tokens);
    }

    public void Dispose()
    {
        optimizer.Dispose();
        Model.Dispose();
    }

    /// <summary>Whether <paramref name="path"/> is an LM training checkpoint.</summary>
    public static bool IsCheckpoint(string path)
    {
        try
        {
            return File.Exists(path) && ReadMetadata(path).GetValueOrDefault("format") == CheckpointFormat;
        }
        catch (UserError)
        {
            return false;
        }
    }

    private static Dictionary<string, string> ReadMetadata(string path)
    {
        if (!File.Exists(path)) throw new UserError($"checkpoint '{path}' does not exist");
        try
        {
            (Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata) = SafeTensors.Read(path);
            foreach (Tensor t in tensors.Values) t.Dispose();
            return metadata;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new UserError($"checkpoint '{path}' is corrupt: {e.Message}");
        }
    }

    private static Tensor Get(Dictionary<string, Tensor> tensors, string path, string name) =>
        tensors.TryGetValue(name, out Tensor? t) ? t : throw new UserError($"checkpoint '{path}' lacks tensor '{name}'");

    private static void Copy(Dictionary<string, Tensor> tensors, string path, string name, Tensor target)
    {
        Tensor source = Get(tensors, path, name);
        if (!source.shape.SequenceEqual(target.shape))
            throw new UserError($"checkpoint '{path}': tensor '{name}' is [{string.Join(", ", source.shape)}], the run needs [{string.Join(", ", target.shape)}]");
        target.copy_(source.to(target.dtype, target.device));
    }
}
