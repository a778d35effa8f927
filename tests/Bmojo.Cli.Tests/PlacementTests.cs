using Bmojo.Cli.Models;
using Bmojo.Cli.Tasks;
using Bmojo.Cli.Training;
using Bmojo.Models;
using Bmojo.Runtime.Tests.Gpu;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

/// <summary>A fact for machines without a GPU: what the CLI does when CUDA is asked for and absent.</summary>
public sealed class NoCudaFactAttribute : FactAttribute
{
    public NoCudaFactAttribute()
    {
        if (cuda.is_available()) Skip = "torch sees a CUDA GPU here; this fact is about machines without one";
    }
}

public sealed class PlacementTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-placement-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static TrainingOptions Options(int steps) =>
        TrainingOptions.Default(MqarGridKind.Small) with { Steps = steps, Batch = 2, WarmupSteps = 1, EvalExamples = 4, Seed = 5 };

    [Fact]
    public void The_default_device_is_cuda_where_torch_sees_a_gpu_and_says_so()
    {
        Placement withGpu = Placement.Resolve(null, null, () => true, () => 2);
        Assert.Equal("cuda:0", withGpu.DeviceName);
        Assert.Equal(Precision.Fp32, withGpu.Precision);
        Assert.Contains("CUDA is available", withGpu.Chosen);
        Placement without = Placement.Resolve(null, "bf16", () => false, () => 0);
        Assert.Equal("cpu", without.DeviceName);
        Assert.Equal(ScalarType.BFloat16, without.DType);
        Assert.Contains("not available", without.Chosen);
        Assert.Equal("cuda:1, bf16", Placement.Resolve("cuda:1", "BF16", () => true, () => 2).Describe());
        Assert.Equal("cpu, fp32", Placement.Resolve("cpu", "fp32", () => true, () => 2).Describe());
    }

    [Theory]
    [InlineData("cuda", null, "--device cuda: CUDA is not available here")]
    [InlineData("cuda:0", null, "--device cuda:0: CUDA is not available here")]
    [InlineData("gpu", null, "--device must be cpu, cuda or cuda:N (got 'gpu')")]
    [InlineData("cuda:x", null, "--device must be cpu, cuda or cuda:N (got 'cuda:x')")]
    [InlineData("cpu", "fp16", "--dtype must be one of: fp32, bf16 (got 'fp16')")]
    public void Bad_devices_and_dtypes_are_errors_naming_the_option(string device, string? dtype, string message)
    {
        var error = Assert.Throws<UserError>(() => Placement.Resolve(device, dtype, () => false, () => 0));
        Assert.StartsWith(message, error.Message);
        Assert.Equal(1, error.ExitCode);
    }

    [Fact]
    public void A_device_index_the_machine_lacks_is_an_error_listing_what_it_has()
    {
        var error = Assert.Throws<UserError>(() => Placement.Resolve("cuda:2", null, () => true, () => 2));
        Assert.Equal("--device cuda:2: this machine has 2 CUDA devices (cuda:0 .. cuda:1)", error.Message);
    }

    [NoCudaFact]
    public void Asking_for_cuda_without_a_gpu_exits_1_with_one_line()
    {
        foreach (string command in new[] { "train", "compare" })
        {
            Cli.Result result = command == "train"
                ? Cli.Run("train", "TransformerTiny", "--device", "cuda", "--steps", "1")
                : Cli.Run("compare", "TransformerTiny", "MambaTiny", "--device", "cuda", "--steps", "1", "--out", directory);
            Assert.Equal(1, result.ExitCode);
            string line = Assert.Single(result.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("--device cuda: CUDA is not available here", line);
        }
    }

    [Fact]
    public void The_cli_says_which_device_it_chose()
    {
        Cli.Result result = Cli.Run("train", "TransformerTiny", "--device", "cpu", "--dtype", "bf16", "--steps", "1", "--batch", "2",
                                    "--eval-examples", "2", "--threads", "2");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("device: cpu, bf16 (asked for)", result.Output);
        Cli.Result bad = Cli.Run("eval", "TransformerTiny", "--checkpoint", "x.safetensors", "--dtype", "fp8");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--dtype must be one of: fp32, bf16 (got 'fp8')", bad.Errors);
    }

    [Theory]
    [InlineData("MambaTiny")]
    [InlineData("Mamba2Tiny")]
    public void Bf16_keeps_a_log_d_and_the_dt_bias_in_fp32(string spec)
    {
        using var model = ModelCatalog.Find(spec)!.Create();
        new Placement(CPU, Precision.Bf16, "asked for").Apply(model);
        foreach ((string name, Tensor parameter) in model.named_parameters())
        {
            bool kept = name.EndsWith("A_log", StringComparison.Ordinal) || name.EndsWith(".D", StringComparison.Ordinal) ||
                        name.EndsWith("dt_proj.bias", StringComparison.Ordinal) || name.EndsWith("mixer.dt_bias", StringComparison.Ordinal);
            Assert.True((kept ? ScalarType.Float32 : ScalarType.BFloat16) == parameter.dtype, $"{name} is {parameter.dtype}");
        }
    }

    /// <summary>A bf16 run's checkpoint holds fp32 tensors only, evaluates in fp32 with the bf16 weights' values, and
    /// resumes in bf16 where it stopped.</summary>
    [Fact]
    public void A_bf16_checkpoint_is_fp32_evaluates_in_fp32_and_resumes()
    {
        ModelDefinition definition = ModelCatalog.Find("TransformerTiny")!;
        var bf16 = new Placement(CPU, Precision.Bf16, "asked for");
        string path = Path.Combine(directory, "bf16.safetensors");
        Dictionary<string, Tensor> trained;
        using (Trainer trainer = Trainer.Start(definition, Options(4), bf16))
        {
            TrainerTests.Run(trainer, 2);
            trainer.Save(path);
            trained = trainer.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float32).clone());
        }
        (Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata) = SafeTensors.Read(path);
        Assert.Equal("bf16", metadata["precision"]);
        foreach ((string name, Tensor t) in tensors)
            if (t.is_floating_point()) Assert.True(t.dtype == ScalarType.Float32, $"{name} is saved as {t.dtype}");

        using (Trainer fp32 = Trainer.Resume(path, definition))
        {
            Assert.Equal(2, fp32.Step);
            foreach ((string name, Tensor weight) in fp32.Module.state_dict())
            {
                Assert.Equal(ScalarType.Float32, weight.dtype);
                Assert.True(weight.equal(trained[name]).all().item<bool>(), $"{name} differs from the bf16 run's values");
            }
            Assert.All(fp32.Evaluate(), r => Assert.InRange(r.Accuracy, 0, 1));
        }
        using (Trainer resumed = Trainer.Resume(path, definition, bf16))
        {
            Assert.Equal(ScalarType.BFloat16, resumed.Module.parameters().First().dtype);
            List<float> losses = TrainerTests.Run(resumed, 2);
            Assert.All(losses, l => Assert.True(float.IsFinite(l)));
            Assert.True(resumed.Finished);
        }
    }

    /// <summary>Run through the device: a bf16 run on CUDA saves a checkpoint the CPU continues, with the same weights.</summary>
    [CudaFact]
    public void A_cuda_bf16_run_continues_on_the_cpu()
    {
        ModelDefinition definition = ModelCatalog.Find("MambaTiny")!;
        string path = Path.Combine(directory, "cuda.safetensors");
        Dictionary<string, Tensor> trained;
        using (Trainer trainer = Trainer.Start(definition, Options(4), new Placement(new Device(DeviceType.CUDA, 0), Precision.Bf16, "asked for")))
        {
            List<float> losses = TrainerTests.Run(trainer, 2);
            Assert.All(losses, l => Assert.True(float.IsFinite(l)));
            Assert.Equal(DeviceType.CUDA, trainer.Module.parameters().First().device_type);
            trainer.Save(path);
            trained = trainer.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float32).cpu().clone());
        }
        using Trainer cpu = Trainer.Resume(path, definition);
        foreach ((string name, Tensor weight) in cpu.Module.state_dict())
            Assert.True(weight.equal(trained[name]).all().item<bool>(), $"{name} differs after the move to the CPU");
        Assert.All(TrainerTests.Run(cpu, 2), l => Assert.True(float.IsFinite(l)));
    }
}
