using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

public sealed class BlockTests
{
    private static readonly NormOptions Rms = new(NormKind.RmsNorm);

    [Fact]
    public void IsAPreNormResidualBlockWithReferenceNames()
    {
        manual_seed(40);
        var mixer = new AttentionMixer(8, 0, new AttentionOptions(2, 2));
        var mlp = new Mlp(8, new MlpOptions(12));
        using var block = new Block(8, 0, mixer, Rms, mlp);
        Assert.Equal(new[] { "mixer.in_proj.weight", "mixer.out_proj.weight", "mlp.fc1.weight", "mlp.fc2.weight", "norm.weight", "norm2.weight" },
                     block.state_dict().Keys.Order());

        using var norm = new RmsNorm(8, Rms.Eps);
        Tensor x = randn(2, 4, 8);
        Tensor h = x + mixer.forward(norm.forward(x));
        Tensor expected = h + mlp.forward(norm.forward(h));          // norm and norm2 both start at weight 1
        TensorAssert.Close(expected, block.forward(x), atol: 1e-6, what: "block");
    }

    [Fact]
    public void WithoutAFeedForwardHasOneResidualAndNoNorm2()
    {
        using var block = new Block(8, 0, new MambaMixer(8, 0, new MambaOptions(DState: 4)), new NormOptions(NormKind.LayerNorm), null);
        Assert.DoesNotContain(block.state_dict().Keys, k => k.StartsWith("norm2") || k.StartsWith("mlp"));
        Assert.Contains("norm.bias", block.state_dict().Keys);
        Assert.Null(block.AuxLoss);
    }

    [Fact]
    public void RecurrentRunsEqualTheFullForward()
    {
        manual_seed(41);
        var moe = new MixtureOfExperts(8, new MoeOptions(3, 2, new MlpOptions(6)));
        using var block = new Block(8, 0, new MambaMixer(8, 0, new MambaOptions(DState: 4, DConv: 3)), Rms, moe);
        Tensor x = randn(2, 9, 8);
        Tensor full = block.forward(x);
        using IMixerCache cache = block.AllocateCache(2);
        Tensor stepped = cat(new[] { block.Forward(x[.., ..4], cache), block.Forward(x[.., 4..5], cache), block.Forward(x[.., 5..], cache) }, 1);
        TensorAssert.Close(full, stepped, atol: 1e-4, what: "block recurrent vs full");
        Assert.NotNull(block.AuxLoss);
    }

    [Fact]
    public void RejectsAMixerThatIsNotAnIMixer()
    {
        var error = Assert.Throws<ArgumentException>(() => new Block(8, 5, nn.Identity(), Rms, null));
        Assert.Contains("Block (layer 5): the mixer must implement IMixer", error.Message);
    }
}
