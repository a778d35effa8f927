using System.ComponentModel;
using System.Diagnostics;
using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Bmojo.Distributed;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Commands;

public sealed class DistCheckSettings : CommandSettings
{
    [CommandOption("--model <SPEC>")]
    [Description("The model whose gradients are compared (no MoE). Default: BMojoTiny.")]
    [DefaultValue("BMojoTiny")]
    public string Model { get; init; } = "BMojoTiny";

    [CommandOption("--batch <B>")]
    [Description("The global batch (default 8).")]
    [DefaultValue(8)]
    public int Batch { get; init; } = 8;

    [CommandOption("--shards <K>")]
    [Description("Shards each rank back-propagates one after the other, standing in for K ranks (default 2).")]
    [DefaultValue(2)]
    public int Shards { get; init; } = 2;

    [CommandOption("--gpus <N>")]
    [ShownDefault("1 (this process)")]
    [Description("Launch N ranks, one per GPU (default: this process alone, world size 1).")]
    public int? Gpus { get; init; }

    [CommandOption("--cpu-ranks <N>")]
    [Description("No NCCL: N ranks as threads on the CPU (LocalGroup), for machines without a GPU.")]
    public int? CpuRanks { get; init; }

    public override ValidationResult Validate()
    {
        if (Batch <= 0) return ValidationResult.Error($"--batch must be positive (got {Batch})");
        if (Shards <= 0) return ValidationResult.Error($"--shards must be positive (got {Shards})");
        if (Gpus is <= 0) return ValidationResult.Error($"--gpus must be positive (got {Gpus})");
        if (CpuRanks is <= 0) return ValidationResult.Error($"--cpu-ranks must be positive (got {CpuRanks})");
        if (Gpus is not null && CpuRanks is not null) return ValidationResult.Error("--gpus and --cpu-ranks exclude each other");
        return ValidationResult.Success();
    }
}

/// <summary>
/// <c>bmojo dist-check</c> (hidden): on each rank, (1) NCCL all-reduces and a broadcast of known values, fp32 and
/// bf16, compared exactly, and the time of a 64 MiB all-reduce; (2) <see cref="GradientCheck"/>: the data-parallel
/// gradient of one global batch against the single-process one, fp32 (TF32 off), within
/// <see cref="GradientCheck.Tolerance"/>. Exit code 0 when every rank passes.
/// </summary>
public sealed class DistCheckCommand(Streams streams) : Command<DistCheckSettings>
{
    private static readonly MqarConfig Config = new(SeqLen: 64, KvPairs: 8);
    private const long Seed = 0;

    public override int Execute(CommandContext context, DistCheckSettings settings, CancellationToken cancellation)
    {
        ModelDefinition model = SpecLoader.LoadOne(settings.Model, streams.Error);
        if (settings.CpuRanks is int threads) return OnCpu(model, settings, threads);
        RankEnvironment? rank = settings.Gpus is int gpus ? DistributedTraining.RankOf(gpus) : RankEnvironment.Current();
        if (settings.Gpus is int launch && rank is null) return DistributedTraining.Launch(context.Arguments, launch, streams.Error);

        // A rank of a launch, or this process alone as a world of one (its NCCL id needs no rendezvous).
        ICommunicator communicator = rank is null
            ? NcclCommunicator.Create(0, 1, 0, make => make!())
            : NcclCommunicator.Create(rank.Rank, rank.WorldSize, rank.LocalRank,
                                      make => rank.Rendezvous(Environment.GetEnvironmentVariable).ExchangeId(make, rank.Rank));
        bool main = communicator.Rank == 0;
        torch.backends.cuda.matmul.allow_tf32 = false;
        torch.backends.cudnn.allow_tf32 = false;
        if (main)
            streams.Out.WriteLine($"NCCL {Nccl.VersionText}: {communicator.WorldSize} rank(s); rank 0 on {communicator.Device}; " +
                             $"NCCL_NVLS_ENABLE={SafeEnvironment.NativeValue("NCCL_NVLS_ENABLE")}");
        int failures = Collectives(communicator, main);
        using var parallel = new DataParallel(communicator);
        random.manual_seed(Seed);
        using nn.Module<Tensor, Tensor> replica = model.Create();
        replica.to(parallel.Device);
        GradientCheckResult result = GradientCheck.Run(replica, parallel, model.Settings, Config, settings.Batch, settings.Shards, Seed);
        double[] worst = new double[parallel.WorldSize];
        worst[parallel.Rank] = result.WorstRelative;
        worst = parallel.Sum(worst);
        failures = (int)parallel.Sum(failures + (result.Passed(GradientCheck.Tolerance) ? 0 : 1))[0];
        if (main)
        {
            streams.Out.WriteLine($"gradients ({model.Name}, {result.Parameters} parameters, fp32, global batch {settings.Batch} of MQAR {Config}, " +
                             $"{parallel.WorldSize} rank(s) × {settings.Shards} shard(s)): worst max|g_dp - g_1|/max|g_1| per rank " +
                             $"{string.Join(", ", worst.Select(w => w.ToString("0.00e+00")))} (rank 0 at {result.WorstParameter}); tolerance {GradientCheck.Tolerance:0e+00}");
            streams.Out.WriteLine(failures == 0 ? "dist-check: passed" : $"dist-check: FAILED ({failures} check(s) across the ranks)");
        }
        return failures == 0 ? 0 : 1;
    }

    /// <summary>All-reduce and broadcast of exactly representable values, checked exactly; one all-reduce timed.</summary>
    private int Collectives(ICommunicator communicator, bool main)
    {
        int failures = 0;
        int world = communicator.WorldSize, rank = communicator.Rank;
        Device device = communicator.Device;
        using (var scope = NewDisposeScope())
        {
            foreach (ScalarType dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                long n = dtype == ScalarType.Float32 ? 1 << 20 : 1 << 12;
                Tensor pattern = arange(n, dtype: ScalarType.Float32, device: device).remainder(61);   // small integers: exact in bf16 sums
                Tensor x = (pattern * (rank + 1)).to(dtype);
                communicator.AllReduceSum([x]);
                Tensor expected = (pattern * (world * (world + 1) / 2)).to(dtype);
                bool ok = x.eq(expected).all().item<bool>();
                failures += ok ? 0 : 1;
                if (main) streams.Out.WriteLine($"all-reduce {dtype} of {n} elements: {(ok ? "exact" : "WRONG")}");
            }
            Tensor b = full(1000, rank == 0 ? 7f : -1f, device: device);
            communicator.Broadcast([b], root: 0);
            bool broadcastOk = b.eq(7f).all().item<bool>();
            failures += broadcastOk ? 0 : 1;
            if (main) streams.Out.WriteLine($"broadcast from rank 0: {(broadcastOk ? "exact" : "WRONG")}");

            Tensor big = ones(16L << 20, dtype: ScalarType.Float32, device: device);   // 64 MiB
            communicator.AllReduceSum([big]);
            cuda.synchronize(device);
            const int repeats = 10;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < repeats; i++) communicator.AllReduceSum([big]);
            cuda.synchronize(device);
            double seconds = clock.Elapsed.TotalSeconds / repeats, bytes = big.numel() * 4.0;
            if (main)
                streams.Out.WriteLine($"all-reduce 64 MiB fp32: {seconds * 1e3:0.000} ms, algorithm bandwidth {bytes / seconds / 1e9:0.0} GB/s, " +
                                 $"bus bandwidth {bytes * 2 * (world - 1) / world / seconds / 1e9:0.0} GB/s");
        }
        return failures;
    }

    /// <summary>The gradient check with <paramref name="ranks"/> threads of a <see cref="LocalGroup"/> on the CPU.</summary>
    private int OnCpu(ModelDefinition model, DistCheckSettings settings, int ranks)
    {
        var group = new LocalGroup(ranks);
        var replicas = new nn.Module<Tensor, Tensor>[ranks];
        for (int r = 0; r < ranks; r++)
        {
            random.manual_seed(Seed);   // the same weights on every rank, made one after the other (the generator is global)
            replicas[r] = model.Create();
        }
        var results = new GradientCheckResult[ranks];
        Exception? failure = null;
        Parallel.For(0, ranks, new ParallelOptions { MaxDegreeOfParallelism = ranks }, r =>
        {
            try
            {
                using var parallel = new DataParallel(group.Join(r));
                results[r] = GradientCheck.Run(replicas[r], parallel, model.Settings, Config, settings.Batch, settings.Shards, Seed);
            }
            catch (Exception e)
            {
                failure ??= e;
            }
        });
        foreach (nn.Module<Tensor, Tensor> replica in replicas) replica.Dispose();
        if (failure is not null) throw failure;
        bool passed = results.All(r => r.Passed(GradientCheck.Tolerance));
        streams.Out.WriteLine($"gradients ({model.Name}, {results[0].Parameters} parameters, fp32, global batch {settings.Batch} of MQAR {Config}, " +
                         $"{ranks} CPU rank(s) × {settings.Shards} shard(s)): worst max|g_dp - g_1|/max|g_1| per rank " +
                         $"{string.Join(", ", results.Select(r => r.WorstRelative.ToString("0.00e+00")))}; tolerance {GradientCheck.Tolerance:0e+00}");
        streams.Out.WriteLine(passed ? "dist-check: passed" : "dist-check: FAILED");
        return passed ? 0 : 1;
    }
}
