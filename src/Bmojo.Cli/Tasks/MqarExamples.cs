using Bmojo.Cli.Training;

namespace Bmojo.Cli.Tasks;

/// <summary>
/// A fixed training set, as Zoology trains: <see cref="TrainingOptions.TrainExamples"/> examples of each MQAR setting,
/// seen once per epoch in an order shuffled anew each epoch (the last partial batch of an epoch is dropped). Example i
/// of a setting is drawn from a stream of its own (seed, setting, i), and each epoch's order from another, so the batch
/// of any step is a function of the options and the step alone: a resumed run needs no state beyond its step.
/// Settings take turns: step s trains on setting <c>s mod settings</c>.
/// </summary>
public sealed class MqarExamples
{
    private readonly Mqar task;
    private readonly TrainingOptions options;
    private readonly IReadOnlyList<MqarConfig> grid;
    private (int Setting, long Epoch, int[] Order)? order;

    public MqarExamples(Mqar task, TrainingOptions options, IReadOnlyList<MqarConfig> grid)
    {
        if (options.TrainExamples < options.Batch)
            throw new UserError($"--train-examples ({options.TrainExamples}) must be at least --batch ({options.Batch})");
        this.task = task;
        this.options = options;
        this.grid = grid;
    }

    /// <summary>Optimizer steps per epoch of one setting's examples.</summary>
    public int StepsPerEpoch => options.TrainExamples / options.Batch;

    /// <summary>The batch of optimizer step <paramref name="step"/> (0-based).</summary>
    public MqarBatch Batch(int step)
    {
        int setting = step % grid.Count;
        long round = step / grid.Count;
        long epoch = round / StepsPerEpoch;
        int first = (int)(round % StepsPerEpoch) * options.Batch;
        int[] shuffled = Order(setting, epoch);
        MqarConfig config = grid[setting];
        int seqLen = config.SeqLen;
        var inputs = new long[options.Batch * seqLen];
        var labels = new long[options.Batch * seqLen];
        for (int b = 0; b < options.Batch; b++)
        {
            MqarBatch one = task.Sample(new DataRng(Seed(setting, 0x5EED_0000UL, (ulong)shuffled[first + b])), 1, config);
            one.Inputs.CopyTo(inputs, b * seqLen);
            one.Labels.CopyTo(labels, b * seqLen);
        }
        return new MqarBatch(options.Batch, config, inputs, labels);
    }

    private int[] Order(int setting, long epoch)
    {
        if (order is { } cached && cached.Setting == setting && cached.Epoch == epoch) return cached.Order;
        int[] indices = Enumerable.Range(0, options.TrainExamples).ToArray();
        var rng = new DataRng(Seed(setting, 0x0DE2_0000UL, (ulong)epoch));
        for (int i = indices.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (indices[i], indices[j]) = (indices[j], indices[i]);
        }
        order = (setting, epoch, indices);
        return indices;
    }

    private ulong Seed(int setting, ulong purpose, ulong index)
    {
        MqarConfig config = grid[setting];
        ulong h = unchecked((ulong)options.Seed * 0x9E3779B97F4A7C15UL ^ purpose ^ ((ulong)config.SeqLen << 40) ^ ((ulong)config.KvPairs << 24));
        return unchecked(h * 0xBF58476D1CE4E5B9UL + index * 0x94D049BB133111EBUL + 1);
    }
}
