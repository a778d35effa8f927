using Bmojo.Cli.Models;
using Bmojo.Runtime;
using Bmojo.Runtime.Blocks;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tests;

/// <summary>A small language model built by hand (embedding, a biased projection, LayerNorm, head) so the trainer
/// and checkpoints are tested independently of the generated models.</summary>
internal sealed class BigramModel : nn.Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Embedding embedding;
    private readonly TorchSharp.Modules.Linear proj;
    private readonly TorchSharp.Modules.LayerNorm norm;
    private readonly TorchSharp.Modules.Linear lm_head;

    public BigramModel(int vocab, int dModel) : base(nameof(BigramModel))
    {
        embedding = nn.Embedding(vocab, dModel);
        proj = nn.Linear(dModel, dModel);
        norm = nn.LayerNorm(dModel);
        lm_head = nn.Linear(dModel, vocab, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor h = embedding.forward(tokens);                       // (B, L, D)
        return lm_head.forward(norm.forward(h + nn.functional.gelu(proj.forward(h)))).MoveToOuterDisposeScope();
    }

    public static ModelDefinition Definition(int vocab = 64, int dModel = 16)
    {
        long parameters = vocab * dModel + dModel * dModel + dModel + 2 * dModel + dModel * vocab;
        var settings = new ModelSettings("BigramModel", vocab, dModel, new NormOptions(NormKind.LayerNorm), false, [], parameters,
                                         KernelPolicy.Auto);
        return new ModelDefinition("BigramModel", settings, "test", () => new BigramModel(vocab, dModel));
    }
}
