using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Tests;

/// <summary>Small B'MOJO configurations and helpers shared by the B'MOJO tests.</summary>
internal static class BmojoFixtures
{
    public const int D = 16;

    public static readonly MambaOptions SmallMamba = new(DState: 4, DConv: 3, Expand: 2, DtRank: 2);

    /// <summary>d_model 16, 4 query heads over 2 key/value heads, RoPE on 2 of 4 dims, bias on.</summary>
    public static BmojoOptions Options(int window, int fadingTokens, int eideticCapacity, double threshold,
                                       bool fading = true, RetrievalOptions? retrieval = null, int blockSize = 4,
                                       int heads = 4, int kvHeads = 2, int rotaryDim = 2) =>
        new(new AttentionOptions(heads, kvHeads, RotaryDim: rotaryDim, RopeBase: 100.0, Bias: true),
            fading ? SmallMamba : null, window, fadingTokens, eideticCapacity, threshold, Retrieval: retrieval)
        { BlockSize = blockSize };

    /// <summary>The kernel policy that runs the B'MOJO softmax on <paramref name="path"/> (the scan on Auto).</summary>
    public static KernelPolicy Policy(BmojoPath path) => new(BmojoAttention: path);

    /// <summary>A layer-0 mixer of width <see cref="D"/> whose full forward runs <paramref name="path"/>.</summary>
    public static BmojoMixer Mixer(BmojoOptions options, BmojoPath path = BmojoPath.Blockwise) =>
        new(D, 0, options, Policy(path));

    /// <summary>A mixer built from <paramref name="options"/> on <paramref name="path"/> holding <paramref name="source"/>'s weights.</summary>
    public static BmojoMixer Copy(BmojoMixer source, BmojoOptions options, BmojoPath path = BmojoPath.Blockwise, int dModel = D)
    {
        var copy = new BmojoMixer(dModel, 0, options, Policy(path));
        copy.to(source.parameters().First().dtype);
        copy.load_state_dict(source.state_dict());
        return copy;
    }

    public static Tensor Parameter(nn.Module module, string name) =>
        module.named_parameters().Single(p => p.name == name).parameter;

    /// <summary>Runs <paramref name="mixer"/> over <paramref name="x"/> in pieces of the given lengths with one cache.</summary>
    public static Tensor Recurrent(IMixer mixer, Tensor x, params int[] lengths)
    {
        using IMixerCache cache = mixer.AllocateCache(x.shape[0]);
        var pieces = new List<Tensor>();
        long start = 0;
        foreach (int length in lengths)
        {
            pieces.Add(mixer.Forward(x.narrow(1, start, length), cache));
            start += length;
        }
        Assert.Equal(x.shape[1], start);
        Assert.Equal(start, cache.Position);
        return cat(pieces, 1);
    }
}
