namespace Bmojo.Runtime.Blocks;

/// <summary>The options of a block's feed-forward half: <see cref="MlpOptions"/> or <see cref="MoeOptions"/>.</summary>
public abstract record FeedForwardOptions;

public enum NormKind { RmsNorm, LayerNorm }

public enum Activation { Gelu, Silu, Relu }

/// <summary>A norm over the last dimension: RMSNorm (weight) or LayerNorm (weight, bias).</summary>
public sealed record NormOptions(NormKind Kind, double Eps = 1e-5);

/// <summary>An MLP in state-spaces/mamba's naming: plain <c>fc2(act(fc1(x)))</c>, or gated
/// (<c>GatedMLP</c>: fc1 to 2*Hidden, split into (y, gate), <c>fc2(y * act(gate))</c>).</summary>
public sealed record MlpOptions(int Hidden, Activation Activation = Activation.Silu, bool Gated = true, bool Bias = false)
    : FeedForwardOptions;

/// <summary>Mixture of experts: a bias-free linear router over <paramref name="Experts"/> experts, softmax,
/// top-k with renormalised weights, and the Switch-style load-balancing loss scaled by AuxLossWeight.</summary>
public sealed record MoeOptions(int Experts, int TopK, MlpOptions Expert, double AuxLossWeight = 0.01)
    : FeedForwardOptions;
