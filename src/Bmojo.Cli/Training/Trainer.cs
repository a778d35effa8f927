using System.Diagnostics;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Distributed;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Cli.Training;

/// <summary>One optimizer step's numbers.</summary>
public readonly record struct StepResult(int Step, float Loss, double Accuracy, double LearningRate, long Tokens, TimeSpan Elapsed);

/// <summary>Accuracy and loss on the held-out answers of one MQAR setting.</summary>
public sealed record EvalResult(MqarConfig Config, double Accuracy, double Loss);

/// <summary>Trains a model on MQAR: AdamW, warm-up + cosine, cross-entropy on the answer positions (+ the model's
/// auxiliary loss). Every number it uses is seeded or checkpointed, so a resumed run repeats an uninterrupted one
/// to the bit (same machine, same thread count).</summary>
public sealed class Trainer : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly AdamW optimizer;
    private readonly IReadOnlyList<string> optimizerNames;
    private readonly Mqar task;
    private readonly IReadOnlyList<MqarConfig> grid;
    private DataRng data;
    private MqarExamples? examples;

    private Trainer(ModelDefinition definition, TrainingOptions options, Placement placement, DataParallel? parallel = null)
    {
        if (options.Check() is string problem) throw new UserError(problem);
        Definition = definition;
        Options = options;
        Placement = placement;
        task = new Mqar(definition.Settings.Vocab, randomNonQueries: options.RandomNonQueries);
        grid = options.Settings();
        if (options.TrainExamples > 0) examples = new MqarExamples(task, options, grid);
        foreach (MqarConfig config in grid)
            if (task.Check(config) is string unfit)
                throw new UserError($"{definition.Name} (vocabulary {task.Vocab}) cannot run MQAR {config}: {unfit}");
        random.manual_seed(options.Seed);
        model = definition.Create();
        Parallel = parallel;
        placement.Apply(model);   // before the optimizer takes the parameters
        (optimizer, optimizerNames) = OptimizerFactory.Create(model, options);
        data = new DataRng(unchecked((ulong)options.Seed));
    }

    public ModelDefinition Definition { get; }

    public TrainingOptions Options { get; }

    /// <summary>The device and precision the run computes on (not part of a checkpoint: it resumes anywhere).</summary>
    public Placement Placement { get; }

    /// <summary>The MQAR settings trained on (one per step) and evaluated by <see cref="Evaluate()"/>.</summary>
    public IReadOnlyList<MqarConfig> Grid => grid;

    /// <summary>Optimizer steps taken so far.</summary>
    public int Step { get; private set; }

    public bool Finished => Step >= Options.Steps;

    public nn.Module<Tensor, Tensor> Module => model;

    /// <summary>Data-parallel training (<c>--gpus N</c>): this rank's replica lives on <see cref="DataParallel.Device"/>,
    /// trains on its shard of each global batch, and averages gradients with the other ranks after the backward.
    /// Null: one process on the CPU.</summary>
    public DataParallel? Parallel { get; }

    /// <summary>A fresh run: torch seeded, the model initialised, the data stream at its start.</summary>
    public static Trainer Start(ModelDefinition definition, TrainingOptions options, Placement? placement = null) =>
        new(definition, options, placement ?? Placement.Cpu);

    /// <summary>A fresh data-parallel run: this rank's replica in fp32 on <see cref="DataParallel.Device"/>.</summary>
    public static Trainer Start(ModelDefinition definition, TrainingOptions options, DataParallel parallel) =>
        new(definition, options, RankPlacement(parallel), parallel);

    private static Placement RankPlacement(DataParallel parallel) => new(parallel.Device, Precision.Fp32, "rank");

    /// <summary>Continues the run saved in <paramref name="path"/> exactly where it stopped.</summary>
    /// <param name="placement">Where to continue (default: fp32 on the CPU); a checkpoint holds fp32 weights whatever
    /// the run that wrote it computed in, so any placement can continue it.</param>
    public static Trainer Resume(string path, ModelDefinition definition, Placement? placement = null) =>
        Resume(path, definition, placement ?? Placement.Cpu, null);

    /// <summary>Continues a saved run data-parallel.</summary>
    /// <remarks>A checkpoint holds the global run (weights, optimizer, the one data stream), so it resumes with any
    /// <paramref name="parallel"/> world size, or none.</remarks>
    public static Trainer Resume(string path, ModelDefinition definition, DataParallel parallel) =>
        Resume(path, definition, RankPlacement(parallel), parallel);

    private static Trainer Resume(string path, ModelDefinition definition, Placement placement, DataParallel? parallel)
    {
        Checkpoint checkpoint = Checkpoint.Read(path, definition);
        var trainer = new Trainer(definition, checkpoint.Options, placement, parallel);
        try
        {
            checkpoint.Restore(trainer.model, trainer.optimizer, trainer.optimizerNames);
            trainer.Step = checkpoint.Step;
            trainer.data = checkpoint.Data;
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
        finally
        {
            checkpoint.Dispose();
        }
    }

    /// <summary>Writes the whole run state atomically (temporary file, flush, rename).</summary>
    public void Save(string path) => Checkpoint.Write(path, Definition, Options, Step, data, model, optimizer, optimizerNames, Placement.Precision);

    /// <summary>Gradient accumulation (<c>--grad-accum N</c>): each step's batch (this rank's shard of it) runs as N
    /// micro-batches of about B/N sequences, each loss weighted by its share of the batch's answers (the auxiliary loss by
    /// 1/N), so the summed gradients and the update are the whole batch's, in less activation memory. Not part of a
    /// checkpoint (like the device, it changes only the rounding): a run can resume with another N. Default 1.</summary>
    public int Accumulation
    {
        get => accumulation;
        set
        {
            accumulation = TrainingOptions.CheckAccumulation(value, Options.Batch);
        }
    }

    private int accumulation = 1;

    /// <summary>One optimizer step on a batch drawn from the data stream.</summary>
    public StepResult TrainStep()
    {
        if (Finished) throw new InvalidOperationException($"the run already took its {Options.Steps} steps");
        var clock = Stopwatch.StartNew();
        MqarBatch batch = examples is not null ? examples.Batch(Step) : task.Sample(data, Options.Batch, grid[data.NextInt(grid.Count)]);
        MqarConfig config = batch.Config;
        MqarBatch local = batch;
        if (Parallel is not null)
        {
            if (Parallel.Buckets is null) Parallel.Attach(model);
            BatchShard shard = Parallel.Shard(batch.Batch);
            local = batch.Rows(shard.Start, shard.Count);
        }
        double lr = LearningRateSchedule.At(Step, Options);
        foreach (optim.ILearningRateController group in optimizer.ParamGroups) group.LearningRate = lr;

        using var stepScope = NewDisposeScope();
        model.train();
        optimizer.zero_grad();
        float lossValue;
        double accuracy;
        int parts = Math.Min(accumulation, local.Batch);
        if (parts == 1)
        {
            using var scope = NewDisposeScope();
            (Tensor inputs, Tensor labels) = OnDevice(local);
            Tensor logits = model.forward(inputs);
            Tensor answerLoss = AnswerLoss(logits, labels);
            Tensor? aux = ModelDefinition.AuxLoss(model);
            Tensor loss = aux is null ? answerLoss : answerLoss + aux.to_type(ScalarType.Float32);
            // Data-parallel: the answer loss scaled so that the ranks' average gradient is the global batch's mean-loss
            // gradient; the auxiliary loss is averaged over the ranks, as DDP does.
            Tensor objective = loss;
            if (Parallel is not null)
            {
                objective = answerLoss * Parallel.LossScale(local.AnswerCount, batch.AnswerCount);
                if (aux is not null) objective = objective + aux;
            }
            objective.backward();
            lossValue = loss.item<float>();
            accuracy = AnswerAccuracy(logits, labels);
        }
        else
        {
            // Micro-batches: the mean answer loss of the whole (local) batch is the answer-weighted sum of theirs.
            int answers = local.AnswerCount;
            double rankScale = Parallel is null ? 1 : Parallel.LossScale(answers, batch.AnswerCount);
            double lossSum = 0, correct = 0;
            for (int i = 0; i < parts; i++)
            {
                using var scope = NewDisposeScope();
                BatchShard part = BatchShard.Of(local.Batch, i, parts);
                MqarBatch micro = local.Rows(part.Start, part.Count);
                int microAnswers = micro.AnswerCount;
                double share = (double)microAnswers / Math.Max(1, answers);
                (Tensor inputs, Tensor labels) = OnDevice(micro);
                Tensor logits = model.forward(inputs);
                Tensor? aux = ModelDefinition.AuxLoss(model);
                Tensor? objective = null;
                if (microAnswers > 0)
                {
                    Tensor answerLoss = AnswerLoss(logits, labels);
                    objective = answerLoss * (share * rankScale);
                    lossSum += answerLoss.item<float>() * share;
                    correct += AnswerAccuracy(logits, labels) * share;
                }
                if (aux is not null)
                {
                    Tensor auxPart = aux.to_type(ScalarType.Float32) / parts;
                    objective = objective is null ? auxPart : objective + auxPart;
                    lossSum += auxPart.item<float>();
                }
                objective?.backward();
            }
            (lossValue, accuracy) = ((float)lossSum, correct);
        }
        Parallel?.SynchronizeGradients();
        optimizer.step();
        if (Parallel is not null)
        {
            int answers = local.AnswerCount;
            double[] sums = Parallel.Sum(lossValue * answers, accuracy * answers, answers);
            (lossValue, accuracy) = ((float)(sums[0] / Math.Max(1, sums[2])), sums[1] / Math.Max(1, sums[2]));
        }
        Step++;
        return new StepResult(Step, lossValue, accuracy, lr, (long)batch.Batch * config.SeqLen, clock.Elapsed);
    }

    /// <summary>Accuracy on <see cref="TrainingOptions.EvalExamples"/> held-out examples of each grid setting. The
    /// held-out data depends only on the seed and the setting, so every model of a comparison sees the same.</summary>
    public IReadOnlyList<EvalResult> Evaluate() => Evaluate(grid, Options.EvalExamples);

    /// <summary>Accuracy on <paramref name="examples"/> held-out examples of each of <paramref name="settings"/>.</summary>
    public IReadOnlyList<EvalResult> Evaluate(IReadOnlyList<MqarConfig> settings, int examples)
    {
        foreach (MqarConfig config in settings)
            if (task.Check(config) is string unfit)
                throw new UserError($"{Definition.Name} (vocabulary {task.Vocab}) cannot run MQAR {config}: {unfit}");
        model.eval();
        using var noGrad = no_grad();
        var results = new List<EvalResult>();
        foreach (MqarConfig config in settings)
        {
            var rng = new DataRng(EvalSeed(config));
            long correct = 0, answers = 0;
            double lossSum = 0;
            for (int done = 0; done < examples; done += Options.Batch)
            {
                using var scope = NewDisposeScope();
                MqarBatch batch = task.Sample(rng, Math.Min(Options.Batch, examples - done), config);
                (Tensor inputs, Tensor labels) = OnDevice(batch);
                Tensor logits = model.forward(inputs);
                int count = batch.AnswerCount;
                lossSum += AnswerLoss(logits, labels).item<float>() * count;
                correct += (long)Math.Round(AnswerAccuracy(logits, labels) * count);
                answers += count;
            }
            results.Add(new EvalResult(config, (double)correct / answers, lossSum / answers));
        }
        model.train();
        return results;
    }

    public void Dispose()
    {
        optimizer.Dispose();
        model.Dispose();
    }

    private (Tensor Inputs, Tensor Labels) OnDevice(MqarBatch batch)
    {
        return batch.ToTensors(Placement.Device);
    }

    private ulong EvalSeed(MqarConfig config) =>
        unchecked((ulong)Options.Seed * 0x9E3779B97F4A7C15UL ^ 0xE7A1_0000_0000_0000UL ^ ((ulong)config.SeqLen << 20) ^ (ulong)config.KvPairs);

    internal static Tensor AnswerLoss(Tensor logits, Tensor labels)
    {
        long vocab = logits.shape[^1];
        if (logits.dtype != ScalarType.Float32) logits = logits.to_type(ScalarType.Float32);   // the loss in fp32 (bf16 runs)
        return nn.functional.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), ignore_index: Mqar.IgnoreIndex);   // (B·L, V)
    }

    private static double AnswerAccuracy(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        Tensor answered = labels.ne(Mqar.IgnoreIndex);
        Tensor correct = logits.argmax(-1).eq(labels).logical_and(answered);
        return correct.sum().item<long>() / (double)Math.Max(1, answered.sum().item<long>());
    }
}
