using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Blocks;

/// <summary>Top-k mixture of experts (<c>router</c>, <c>experts.{e}.fc1/fc2</c>) with a load-balancing loss.</summary>
/// <remarks>
/// Router probabilities <c>p = softmax(router(x))</c> (fp32); each token goes to its top-k experts with weights
/// <c>p_e / sum of its top-k p</c>; each expert runs only on its own tokens (index_select, then index_add back).
/// Load-balancing loss (Switch Transformer, extended to top-k): <c>AuxLossWeight * E * sum_e f_e P_e</c>, with
/// <c>f_e</c> the fraction of the N·k routing assignments that went to e (so it is 1 at perfect balance for any k)
/// and <c>P_e</c> the mean router probability of e; the gradient flows through P.
/// </remarks>
public sealed class MixtureOfExperts : nn.Module<Tensor, Tensor>
{
    private readonly Linear router;
    private readonly ModuleList<Mlp> experts;
    private readonly MoeOptions options;
    // Boxed: a Tensor field would be registered as a buffer by TorchSharp's to().
    private readonly StrongBox<Tensor?> auxLoss = new();

    public MixtureOfExperts(int dModel, MoeOptions options) : base(nameof(MixtureOfExperts))
    {
        if (options.Experts < 1) throw new ArgumentException($"MixtureOfExperts: experts must be at least 1, got {options.Experts}", nameof(options));
        if (options.TopK < 1 || options.TopK > options.Experts)
            throw new ArgumentException($"MixtureOfExperts: top_k must be in [1, experts={options.Experts}], got {options.TopK}", nameof(options));
        if (options.AuxLossWeight < 0) throw new ArgumentException($"MixtureOfExperts: aux loss weight must be at least 0, got {options.AuxLossWeight}", nameof(options));
        this.options = options;
        router = nn.Linear(dModel, options.Experts, hasBias: false);
        experts = nn.ModuleList(Enumerable.Range(0, options.Experts).Select(_ => new Mlp(dModel, options.Expert)).ToArray());
        RegisterComponents();
    }

    /// <summary>The weighted load-balancing loss of the last forward (a scalar), or null before any; valid (and
    /// differentiable) until the next forward, which replaces it.</summary>
    public Tensor? AuxLoss => auxLoss.Value;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long dModel = x.shape[^1], experts = options.Experts, k = options.TopK;
        Tensor tokens = x.reshape(-1, dModel);                                                 // (N, D)
        long n = tokens.shape[0];
        ScalarType compute = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor probabilities = router.forward(tokens).to_type(compute).softmax(-1);            // (N, E)
        (Tensor topWeights, Tensor topExperts) = probabilities.topk((int)k, dim: -1);               // (N, k)
        topWeights = topWeights / topWeights.sum(-1, keepdim: true);

        Tensor output = zeros_like(tokens);
        for (int e = 0; e < experts; e++)
        {
            Tensor isExpert = topExperts == e;                                                 // (N, k), at most one per row
            Tensor token = isExpert.any(-1).nonzero().squeeze(-1);                             // (n_e)
            if (token.shape[0] == 0) continue;
            Tensor weight = (topWeights * isExpert).sum(-1).index_select(0, token).unsqueeze(-1); // (n_e, 1)
            Tensor expertOut = this.experts[e].forward(tokens.index_select(0, token));         // (n_e, D)
            output = output.index_add(0, token, (expertOut.to_type(compute) * weight).to_type(tokens.dtype), 1.0);
        }

        Tensor assigned = nn.functional.one_hot(topExperts, experts).sum(new long[] { 0, 1 }).to_type(compute) / (n * k); // f (E)
        Tensor meanProbability = probabilities.mean(new long[] { 0 });                                                  // P (E)
        Tensor loss = options.AuxLossWeight * experts * (assigned * meanProbability).sum();
        auxLoss.Value?.Dispose();
        auxLoss.Value = loss.DetachFromDisposeScope();
        return output.reshape(x.shape).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) auxLoss.Value?.Dispose();
        base.Dispose(disposing);
    }
}
