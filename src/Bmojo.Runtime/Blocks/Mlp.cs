using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>The MLP of a block (<c>fc1</c>, <c>fc2</c>), plain or gated.</summary>
/// <remarks>Plain (state-spaces/mamba <c>Mlp</c>): <c>fc2(act(fc1(x)))</c>. Gated (<c>GatedMLP</c>): fc1 to 2·Hidden,
/// split into (y, gate), <c>fc2(y * act(gate))</c>. Gelu is the tanh approximation, as the reference's <c>Mlp</c>.</remarks>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly MlpOptions options;

    public Mlp(int dModel, MlpOptions options) : base(nameof(Mlp))
    {
        if (dModel < 1) throw new ArgumentOutOfRangeException(nameof(dModel), dModel, "Mlp: d_model must be at least 1");
        if (options.Hidden < 1) throw new ArgumentException($"Mlp: hidden size must be at least 1, got {options.Hidden}", nameof(options));
        this.options = options;
        fc1 = nn.Linear(dModel, options.Gated ? 2L * options.Hidden : options.Hidden, hasBias: options.Bias);
        fc2 = nn.Linear(options.Hidden, dModel, hasBias: options.Bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor h = fc1.forward(x);                                                    // (..., Hidden or 2 Hidden)
        if (options.Gated)
        {
            Tensor[] yGate = h.chunk(2, -1);                                          // 2 x (..., Hidden)
            h = yGate[0] * Activate(yGate[1]);
        }
        else
        {
            h = Activate(h);
        }
        return fc2.forward(h).MoveToOuterDisposeScope();                              // (..., D)
    }

    private Tensor Activate(Tensor x) => options.Activation switch
    {
        Activation.Silu => nn.functional.silu(x),
        Activation.Gelu => nn.functional.gelu(x, GELU.Approximate.tanh),
        Activation.Relu => nn.functional.relu(x),
        _ => throw new InvalidOperationException($"Mlp: unknown activation {options.Activation}"),
    };
}
