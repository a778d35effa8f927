using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Models.Tests;

/// <summary>Runs alone: building on the <c>meta</c> device changes TorchSharp's process-wide default device.</summary>
[CollectionDefinition(nameof(DefaultDeviceCollection), DisableParallelization = true)]
public sealed class DefaultDeviceCollection;

[Collection(nameof(DefaultDeviceCollection))]
public sealed class ParameterCountTests
{
    public static TheoryData<string> AllModels => new(GeneratedModels.All.Select(type => type.Name));

    /// <summary>Every model, the 0.35-1.3B ones included, is built on the <c>meta</c> device (shapes without
    /// storage), so the check costs no memory; the count is the sum of numel over parameters().</summary>
    [Theory]
    [MemberData(nameof(AllModels))]
    public void The_built_model_has_exactly_the_parameter_count_the_generator_computed(string name)
    {
        Type type = GeneratedModels.Named(name);
        Device previous = torch.get_default_device();
        torch.set_default_device(torch.META);
        try
        {
            using nn.Module<Tensor, Tensor> model = GeneratedModels.Create(type);
            Assert.All(model.parameters(), parameter => Assert.Equal(DeviceType.META, parameter.device_type));

            long actual = model.parameters().Sum(parameter => parameter.numel());

            Assert.Equal(GeneratedModels.ParameterCount(type), actual);
            Assert.Equal(GeneratedModels.ParameterCount(type), GeneratedModels.Settings(type).ParameterCount);
        }
        finally
        {
            torch.set_default_device(previous);
        }
    }
}
