using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The check every mixer makes of its input.</summary>
internal static class MixerInput
{
    public static void Check(Tensor x, long dModel, string where)
    {
        if (x.dim() != 3 || x.shape[2] != dModel || x.shape[1] < 1)
            throw new ArgumentException($"{where}: input must be (B, L >= 1, D={dModel}), got ({string.Join(", ", x.shape)})", nameof(x));
    }
}
