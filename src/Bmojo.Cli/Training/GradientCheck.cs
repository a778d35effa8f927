using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Distributed;
using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Training;

/// <summary>One rank's comparison of the data-parallel gradient with the single-process one.</summary>
/// <param name="WorstRelative">Over all parameters, max |g_dp − g_full| / max |g_full| of the parameter.</param>
/// <param name="WorstParameter">The parameter where it is largest.</param>
public sealed record GradientCheckResult(int Rank, int Parameters, double WorstRelative, string WorstParameter)
{
    public bool Passed(double tolerance) => WorstRelative <= tolerance;
}

/// <summary>
/// Checks the data-parallel arithmetic on one global batch, fp32: every rank computes the single-process gradient
/// of the whole batch (the reference), then the data-parallel one: the batch cut into <c>W·k</c> shards
/// (<see cref="BatchShard"/>), this rank's <c>k</c> shards' scaled losses back-propagated one after the other (as k
/// ranks would, one process standing in for them), then the gradients averaged over the W ranks by
/// <see cref="DataParallel.SynchronizeGradients"/> (NCCL's all-reduce, or <see cref="LocalGroup"/>'s). The two must
/// agree to <see cref="Tolerance"/> relative to each parameter's largest gradient entry: they differ only in the
/// order fp32 sums are taken.
/// </summary>
public static class GradientCheck
{
    /// <summary>The stated tolerance: max |difference| / max |reference| of each parameter's gradient, fp32.</summary>
    public const double Tolerance = 1e-5;

    /// <param name="model">This rank's replica, built from the same seed on every rank and already on the
    /// data-parallel device; the check attaches it.</param>
    public static GradientCheckResult Run(nn.Module<Tensor, Tensor> model, DataParallel parallel, ModelSettings settings, MqarConfig config,
                                          int globalBatch, int shardsPerRank, ulong dataSeed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardsPerRank, 1);
        var task = new Mqar(settings.Vocab);
        if (task.Check(config) is string unfit) throw new UserError($"dist-check: MQAR {config} does not fit the model: {unfit}");
        MqarBatch batch = task.Sample(new DataRng(dataSeed), globalBatch, config);
        int shards = parallel.WorldSize * shardsPerRank;
        if (globalBatch < shards) throw new UserError($"dist-check: --batch {globalBatch} must be at least {shards} (ranks × --shards)");
        nn.Module<Tensor, Tensor> module = model;
        module.train();
        parallel.Attach(module);
        var named = module.named_parameters().Where(p => p.parameter.requires_grad).ToList();

        // The reference: the whole global batch in one backward.
        module.zero_grad();
        using (var scope = NewDisposeScope())
        {
            (Tensor inputs, Tensor labels) = ToDevice(batch, parallel.Device);
            Tensor loss = Trainer.AnswerLoss(module.forward(inputs), labels);
            if (ModelDefinition.AuxLoss(module) is not null)
                throw new UserError("dist-check: the model has an auxiliary (MoE) loss, which data parallelism averages rather than splits; check a model without MoE");
            loss.backward();
        }
        var reference = named.ToDictionary(p => p.name, p => p.parameter.grad is Tensor g ? g.detach().clone() : null);

        // Data-parallel: this rank's shards, scaled and accumulated, then the average over the ranks.
        module.zero_grad();
        for (int j = 0; j < shardsPerRank; j++)
        {
            using var scope = NewDisposeScope();
            BatchShard shard = BatchShard.Of(globalBatch, parallel.Rank * shardsPerRank + j, shards);
            MqarBatch rows = batch.Rows(shard.Start, shard.Count);
            (Tensor inputs, Tensor labels) = ToDevice(rows, parallel.Device);
            double scale = (double)rows.AnswerCount * shards / batch.AnswerCount / shardsPerRank;   // LossScale over W·k shards, and 1/k for the k local ones
            (Trainer.AnswerLoss(module.forward(inputs), labels) * scale).backward();
        }
        parallel.SynchronizeGradients();

        double worst = 0;
        string worstName = "";
        using (var scope = NewDisposeScope())
        {
            foreach ((string name, var parameter) in named)
            {
                Tensor? expected = reference[name];
                Tensor? actual = parameter.grad;
                double relative;
                if (expected is null || actual is null)
                    relative = expected is null && (actual is null || actual.abs().max().item<float>() == 0) ? 0 : double.PositiveInfinity;
                else
                {
                    double scaleOf = Math.Max(expected.abs().max().item<float>(), 1e-30);
                    relative = (actual - expected).abs().max().item<float>() / scaleOf;
                }
                if (worstName.Length == 0 || relative > worst)
                {
                    worst = relative;
                    worstName = name;
                }
            }
        }
        foreach (Tensor? t in reference.Values) t?.Dispose();
        return new GradientCheckResult(parallel.Rank, named.Count, worst, worstName);
    }

    private static (Tensor Inputs, Tensor Labels) ToDevice(MqarBatch batch, Device device)
    {
        (Tensor inputs, Tensor labels) = batch.ToTensors();
        return (inputs.to(device), labels.to(device));
    }
}
