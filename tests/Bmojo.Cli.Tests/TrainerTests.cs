using Bmojo.Cli.Models;
using Bmojo.Runtime;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Bmojo.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

public sealed class TrainerTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-trainer-").FullName;

    private static TrainingOptions Options(int steps) =>
        TrainingOptions.Default(MqarGridKind.Small) with { Steps = steps, Batch = 4, WarmupSteps = 3, EvalExamples = 8, Seed = 11 };

    public void Dispose() => Directory.Delete(directory, recursive: true);

    internal static List<float> Run(Trainer trainer, int steps)
    {
        var losses = new List<float>();
        for (int i = 0; i < steps; i++) losses.Add(trainer.TrainStep().Loss);
        return losses;
    }

    /// <summary>The hand-built model and TransformerTiny take the 10 + 10 steps; JambaTiny (Mamba, MoE with its auxiliary
    /// loss, no-weight-decay groups) is slow on CPU, so it takes 2 + 2 steps of 2 sequences.</summary>
    public static TheoryData<string, int, int> Models => new()
    {
        { "BigramModel", 10, 4 },
        { "TransformerTiny", 10, 4 },
        { "JambaTiny", 2, 2 },
    };

    private static ModelDefinition Definition(string name) => name == "BigramModel" ? BigramModel.Definition() : ModelCatalog.Find(name)!;

    [Theory]
    [MemberData(nameof(Models))]
    public void Ten_plus_ten_steps_through_a_checkpoint_equal_twenty_uninterrupted_steps_to_the_bit(string model, int half, int batch)
    {
        ModelDefinition definition = Definition(model);
        TrainingOptions options = Options(2 * half) with { Batch = batch, WarmupSteps = Math.Min(3, half) };
        List<float> straight;
        Dictionary<string, Tensor> straightWeights;
        using (Trainer trainer = Trainer.Start(definition, options))
        {
            straight = Run(trainer, 2 * half);
            straightWeights = trainer.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        }

        string path = Path.Combine(directory, model + ".safetensors");
        List<float> resumed;
        using (Trainer first = Trainer.Start(definition, options))
        {
            resumed = Run(first, half);
            first.Save(path);
        }
        random.manual_seed(12345);   // a resumed run must not depend on torch's generator at the time of resuming
        using (Trainer second = Trainer.Resume(path, definition))
        {
            Assert.Equal(half, second.Step);
            resumed.AddRange(Run(second, half));
            Assert.True(second.Finished);
            foreach ((string name, Tensor weight) in second.Module.state_dict())
                Assert.True(weight.equal(straightWeights[name]).all().item<bool>(), $"weight {name} differs after resuming");
        }

        Assert.Equal(straight.Select(BitConverter.SingleToInt32Bits), resumed.Select(BitConverter.SingleToInt32Bits));
        if (half >= 10) Assert.True(straight[^1] < straight[0], $"the loss did not fall: {straight[0]} -> {straight[^1]}");
    }

    [Fact]
    public void A_checkpoint_holds_weights_optimizer_state_step_and_options()
    {
        ModelDefinition definition = BigramModel.Definition();
        string path = Path.Combine(directory, "ck.safetensors");
        using Trainer trainer = Trainer.Start(definition, Options(8));
        Run(trainer, 3);
        trainer.Save(path);
        Assert.False(File.Exists(path + ".tmp"));

        (Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata) = SafeTensors.Read(path);
        foreach ((string name, Tensor weight) in trainer.Module.state_dict())
            Assert.True(weight.equal(tensors[name]).all().item<bool>(), name);
        Assert.Equal(3L, tensors["optimizer.lm_head.weight.step"].item<long>());
        Assert.True(tensors["optimizer.proj.bias.exp_avg_sq"].abs().sum().item<float>() > 0);
        Assert.Equal(ScalarType.Byte, tensors["rng.torch"].dtype);
        Assert.Equal("3", metadata["step"]);
        Assert.Equal("BigramModel", metadata["model"]);
        foreach (Tensor t in tensors.Values) t.Dispose();

        using Trainer resumed = Trainer.Resume(path, definition);
        Assert.Equal(trainer.Options, resumed.Options);
        Assert.Equal(3, resumed.Step);
    }

    [Fact]
    public void A_missing_checkpoint_is_named()
    {
        string path = Path.Combine(directory, "absent.safetensors");
        var error = Assert.Throws<UserError>(() => Trainer.Resume(path, BigramModel.Definition()));
        Assert.Equal($"checkpoint '{path}' does not exist", error.Message);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("not-a-checkpoint")]
    public void A_corrupt_checkpoint_is_reported_as_corrupt(string damage)
    {
        ModelDefinition definition = BigramModel.Definition();
        string path = Path.Combine(directory, damage + ".safetensors");
        using (Trainer trainer = Trainer.Start(definition, Options(4))) trainer.Save(path);
        byte[] bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "garbage": new Random(1).NextBytes(bytes); File.WriteAllBytes(path, bytes); break;
            case "truncated": File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]); break;
            default:
                using (var stream = File.Create(path))
                    SafeTensors.Write(stream, new Dictionary<string, Tensor> { ["w"] = zeros(2) }, new Dictionary<string, string>());
                break;
        }
        var error = Assert.Throws<UserError>(() => Trainer.Resume(path, definition));
        if (damage == "not-a-checkpoint") Assert.Contains("not a bmojo training checkpoint", error.Message);
        else Assert.StartsWith($"checkpoint '{path}' is corrupt: ", error.Message);
    }

    [Fact]
    public void Weight_decay_skips_norms_biases_and_what_the_mamba_layers_mark()
    {
        using var model = new MambaTiny();
        IReadOnlySet<string> decayed = OptimizerFactory.Decayed(model);
        Assert.Contains("backbone.embedding.weight", decayed);
        Assert.Contains("backbone.layers.0.mixer.in_proj.weight", decayed);
        Assert.Contains("backbone.layers.0.mixer.x_proj.weight", decayed);
        Assert.DoesNotContain("backbone.layers.0.mixer.A_log", decayed);
        Assert.DoesNotContain("backbone.layers.0.mixer.D", decayed);
        Assert.DoesNotContain("backbone.layers.0.mixer.dt_proj.bias", decayed);
        Assert.DoesNotContain("backbone.layers.0.norm.weight", decayed);
        Assert.DoesNotContain("backbone.norm_f.weight", decayed);
    }

    [Fact]
    public void The_schedule_warms_up_linearly_then_decays_by_cosine_to_the_floor()
    {
        TrainingOptions options = Options(100) with { LearningRate = 1.0, WarmupSteps = 10, MinLearningRateRatio = 0.1 };
        Assert.Equal(0.1, LearningRateSchedule.At(0, options), 12);
        Assert.Equal(0.5, LearningRateSchedule.At(4, options), 12);
        Assert.Equal(1.0, LearningRateSchedule.At(10, options), 12);
        Assert.InRange(LearningRateSchedule.At(54, options), 0.5, 0.6);   // half-way down the cosine: (1 + 0.1) / 2
        Assert.Equal(0.1, LearningRateSchedule.At(99, options), 12);
        for (int s = 11; s < 100; s++)
            Assert.True(LearningRateSchedule.At(s, options) <= LearningRateSchedule.At(s - 1, options));
    }

    [Fact]
    public void Evaluation_reports_every_grid_setting_on_the_same_held_out_data()
    {
        ModelDefinition definition = BigramModel.Definition();
        using Trainer trainer = Trainer.Start(definition, Options(4));
        IReadOnlyList<EvalResult> first = trainer.Evaluate(), second = trainer.Evaluate();
        Assert.Equal(MqarGrid.Of(MqarGridKind.Small), first.Select(r => r.Config));
        Assert.Equal(first, second);
        Assert.All(first, r => Assert.InRange(r.Accuracy, 0, 1));
    }
}
