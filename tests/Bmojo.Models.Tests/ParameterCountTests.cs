using Bmojo.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Models.Tests;

/// <summary>Runs alone: building on the <c>meta</c> device changes TorchSharp's process-wide default device.</summary>
[CollectionDefinition(nameof(DefaultDeviceCollection), DisableParallelization = true)]
public sealed class DefaultDeviceCollection;

[Collection(nameof(DefaultDeviceCollection))]
public sealed class ParameterCountTests
{
    public static TheoryData<string> AllModels => new(GeneratedModels.All.Select(model => model.Name));

    /// <summary>Every model, the 0.35-1.3B ones included, is built on the <c>meta</c> device (shapes without
    /// storage), so the check costs no memory; the count is the sum of numel over parameters().</summary>
    [Theory]
    [MemberData(nameof(AllModels))]
    public void The_built_model_has_exactly_the_parameter_count_the_generator_computed(string name)
    {
        ModelEntry entry = GeneratedModels.Named(name);
        Device previous = torch.get_default_device();
        torch.set_default_device(torch.META);
        try
        {
            using LanguageModel model = entry.Create();
            Assert.All(model.parameters(), parameter => Assert.Equal(DeviceType.META, parameter.device_type));

            long actual = model.parameters().Sum(parameter => parameter.numel());

            Assert.Equal(entry.ParameterCount, actual);
            Assert.Equal(entry.Settings.ParameterCount, model.Settings.ParameterCount);
        }
        finally
        {
            torch.set_default_device(previous);
        }
    }
}

public sealed class ParameterCountConstantTests
{
    [Fact]
    public void The_compile_time_constant_is_the_count_in_the_settings()
    {
        Assert.Equal(TransformerTiny.ParameterCount, TransformerTiny.SpecSettings.ParameterCount);
        Assert.Equal(BMojo.ParameterCount, GeneratedModels.Named(nameof(BMojo)).ParameterCount);
        Assert.Equal(JambaTiny.ParameterCount, GeneratedModels.Named(nameof(JambaTiny)).ParameterCount);
    }
}
