using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Distributed.Tests;

/// <summary>
/// The trainer's data-parallel path on the CPU, ranks as threads of a <see cref="LocalGroup"/>: the same arithmetic
/// as NCCL ranks (shard, scaled loss, bucketed all-reduce mean), so a data-parallel run must follow the single-process
/// run of the same global batches. They differ only in fp32 summation order, which AdamW's m/√v can magnify where a
/// gradient entry is near zero; the weights are compared to <see cref="WeightTolerance"/> (absolute, weights are O(1)).
/// </summary>
public class DataParallelTrainingTests
{
    private const double WeightTolerance = 1e-5;

    private static TrainingOptions Options(int steps, int batch) =>
        TrainingOptions.Default(MqarGridKind.Small) with { Steps = steps, Batch = batch, WarmupSteps = 1, EvalExamples = 8, Seed = 5 };

    private static Dictionary<string, Tensor> Weights(Trainer trainer) =>
        trainer.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>Runs <paramref name="steps"/> steps on every rank's trainer at once, one thread each.</summary>
    private static List<StepResult>[] TrainTogether(IReadOnlyList<Trainer> ranks, int steps)
    {
        var results = ranks.Select(_ => new List<StepResult>()).ToArray();
        Parallel.For(0, ranks.Count, new ParallelOptions { MaxDegreeOfParallelism = ranks.Count }, r =>
        {
            for (int i = 0; i < steps; i++) results[r].Add(ranks[r].TrainStep());
        });
        return results;
    }

    private static double MaxDifference(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        return a.Keys.Max(k => (a[k] - b[k]).abs().max().item<float>());
    }

    private static Trainer[] StartRanks(ModelDefinition definition, TrainingOptions options, int world, Func<DataParallel, Trainer>? start = null)
    {
        var group = new LocalGroup(world);
        // One after the other: the trainers seed torch's global generator.
        return Enumerable.Range(0, world)
            .Select(r => (start ?? (p => Trainer.Start(definition, options, p)))(new DataParallel(group.Join(r))))
            .ToArray();
    }

    private static void DisposeAll(IEnumerable<Trainer> trainers)
    {
        foreach (Trainer t in trainers)
        {
            t.Parallel?.Dispose();
            t.Dispose();
        }
    }

    [Theory]
    [InlineData(2, 4)]   // equal shards
    [InlineData(2, 5)]   // 3 + 2 rows: the loss scale makes the average the global mean
    [InlineData(3, 7)]
    public void Data_parallel_steps_follow_the_single_process_run_on_the_same_global_batches(int world, int batch)
    {
        ModelDefinition definition = TinyLm.Definition();
        TrainingOptions options = Options(steps: 3, batch);
        using Trainer single = Trainer.Start(definition, options);
        var expected = Enumerable.Range(0, 3).Select(_ => single.TrainStep()).ToList();
        Trainer[] ranks = StartRanks(definition, options, world);
        try
        {
            List<StepResult>[] results = TrainTogether(ranks, 3);
            var reference = Weights(single);
            foreach (Trainer rank in ranks)
            {
                double difference = MaxDifference(reference, Weights(rank));
                Assert.True(difference <= WeightTolerance, $"rank {rank.Parallel!.Rank}: max |w_dp - w_1| = {difference:e2}");
            }
            Assert.Equal(0.0, MaxDifference(Weights(ranks[0]), Weights(ranks[^1])));   // the replicas stay identical
            for (int i = 0; i < 3; i++)
                foreach (List<StepResult> rank in results)
                {
                    Assert.Equal(expected[i].Tokens, rank[i].Tokens);   // the global batch's tokens
                    Assert.Equal(expected[i].Loss, rank[i].Loss, 4);    // the global loss, gathered from the shards
                    Assert.Equal(expected[i].Accuracy, rank[i].Accuracy, 6);
                }
        }
        finally
        {
            DisposeAll(ranks);
        }
    }

    [Fact]
    public void Attaching_gives_every_rank_rank_0s_weights()
    {
        ModelDefinition definition = TinyLm.Definition();
        var models = new nn.Module<Tensor, Tensor>[3];
        for (int r = 0; r < 3; r++)
        {
            random.manual_seed(40 + r);   // deliberately different
            models[r] = definition.Create();
        }
        var group = new LocalGroup(3);
        Parallel.For(0, 3, new ParallelOptions { MaxDegreeOfParallelism = 3 }, r =>
        {
            using var parallel = new DataParallel(group.Join(r));
            parallel.Attach(models[r]);
        });
        var reference = models[0].state_dict();
        Assert.All(models.Skip(1), m => Assert.All(m.state_dict(), kv => Assert.True(kv.Value.eq(reference[kv.Key]).all().item<bool>(), kv.Key)));
        foreach (nn.Module<Tensor, Tensor> m in models) m.Dispose();
    }

    [Fact]
    public void A_rank_that_fails_ends_the_others_wait_with_an_error()
    {
        var group = new LocalGroup(2);
        DistributedError? seen = null;
        var waiter = new Thread(() =>
        {
            using ICommunicator member = group.Join(0);
            using Tensor t = zeros(3);
            seen = Assert.Throws<DistributedError>(() => member.AllReduceSum([t]));
        });
        waiter.Start();
        Thread.Sleep(300);
        group.Join(1).Dispose();   // rank 1 "fails" before the collective
        Assert.True(waiter.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal("rank 0: another rank left the group (it failed or finished) while this one waited in a collective", seen?.Message);
    }

    [Fact]
    public void Without_the_loss_scale_uneven_shards_would_not_match_so_the_comparison_can_fail()
    {
        // The check above is sharp: the plain average of two shard means (3 rows and 2) is not the 5-row mean.
        ModelDefinition definition = TinyLm.Definition();
        random.manual_seed(5);
        using nn.Module<Tensor, Tensor> model = definition.Create();
        var task = new Mqar(definition.Settings.Vocab);
        MqarBatch batch = task.Sample(new DataRng(1), 5, new MqarConfig(64, 8));
        Tensor Grad(MqarBatch b, double scale)
        {
            model.zero_grad();
            (Tensor x, Tensor y) = b.ToTensors();
            (Trainer.AnswerLoss(model.forward(x), y) * scale).backward();
            return model.parameters().First().grad!.clone();
        }
        Tensor full = Grad(batch, 1);
        MqarBatch a = batch.Rows(0, 3), b = batch.Rows(3, 2);
        Tensor plain = (Grad(a, 1) + Grad(b, 1)) / 2;
        Tensor scaled = (Grad(a, 2.0 * a.AnswerCount / batch.AnswerCount) + Grad(b, 2.0 * b.AnswerCount / batch.AnswerCount)) / 2;
        double Relative(Tensor g) => (g - full).abs().max().item<float>() / full.abs().max().item<float>();
        Assert.True(Relative(scaled) <= GradientCheck.Tolerance, $"scaled: {Relative(scaled):e2}");
        if (a.AnswerCount * 2 != b.AnswerCount * 3) return;   // equal answers per row: the plain mean is right too
        Assert.True(Relative(plain) > 100 * GradientCheck.Tolerance, $"plain: {Relative(plain):e2}");
    }

    [Fact]
    public void A_run_resumes_with_another_world_size_and_ends_where_the_uninterrupted_run_ends()
    {
        ModelDefinition definition = TinyLm.Definition();
        TrainingOptions options = Options(steps: 4, batch: 6);
        string path = Path.Combine(Path.GetTempPath(), $"bmojo-dp-{Guid.NewGuid():N}.safetensors");
        try
        {
            using Trainer uninterrupted = Trainer.Start(definition, options);
            for (int i = 0; i < 4; i++) uninterrupted.TrainStep();

            // Two steps on 3 ranks, rank 0 saves; then two more on 2 ranks; then the world of one reads the result.
            Trainer[] three = StartRanks(definition, options, 3);
            try
            {
                TrainTogether(three, 2);
                three[0].Save(path);
            }
            finally
            {
                DisposeAll(three);
            }
            Trainer[] two = StartRanks(definition, options, 2, p => Trainer.Resume(path, definition, p));
            try
            {
                Assert.All(two, t => Assert.Equal(2, t.Step));
                TrainTogether(two, 2);
                two[0].Save(path);
            }
            finally
            {
                DisposeAll(two);
            }
            using Trainer resumed = Trainer.Resume(path, definition);
            Assert.True(resumed.Finished);
            double difference = MaxDifference(Weights(uninterrupted), Weights(resumed));
            Assert.True(difference <= WeightTolerance, $"max |w_resumed - w_1| = {difference:e2}");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
