using Bmojo.Runtime;
using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Mixers;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Bench;

/// <summary>
/// Where a model's step goes, estimated: one layer of each kind the model has (its mixers: attention, Mamba, Mamba-2
/// SSD, B'MOJO with its SSM alone beside it; and its feed-forward), built alone with fresh weights and timed forward + backward on a random
/// input (B, L, d_model) that needs a gradient, as inside the model; the embedding, final norm, head and loss likewise.
/// Each is a median after warm-up. Times the layer count, they add up to an estimate of the step without its norms,
/// residual adds and optimizer (which <see cref="TrainingStepBenchmark"/> times alone).
/// </summary>
public sealed class LayerBreakdown
{
    private readonly TrainingStepOptions options;
    private readonly Device device;
    private readonly DeviceTimer timer;
    private readonly TextWriter output;
    private readonly int warmup, runs;

    public LayerBreakdown(TrainingStepOptions options, Device device, DeviceTimer timer, TextWriter output)
    {
        this.options = options;
        this.device = device;
        this.timer = timer;
        this.output = output;
        (warmup, runs) = device.type == DeviceType.CUDA ? (2, 5) : (1, 3);
    }

    public IReadOnlyList<BreakdownRow> Measure(ModelSettings settings)
    {
        int d = settings.DModel;
        var rows = new List<BreakdownRow>();
        foreach (IGrouping<MixerOptions, LayerSettings> kind in settings.Layers.GroupBy(l => l.Mixer))
        {
            int count = kind.Count();
            switch (kind.Key)
            {
                case BmojoOptions bmojo:
                    BreakdownRow whole = Part($"B'MOJO mixer (w {bmojo.Window}, m_f {bmojo.EffectiveFadingTokens}, m_e {bmojo.EideticCapacity}), whole",
                                              BreakdownKind.Mixer, d, count, true, () => new BmojoMixer(d, 0, bmojo, settings.Kernels));
                    rows.Add(whole);
                    if (bmojo.Fading is MambaOptions fading)
                    {
                        BreakdownRow ssm = Part("  its SSM alone (MambaMixer)", BreakdownKind.Mixer, d, count, false, () => new MambaMixer(d, 0, fading, settings.Kernels));
                        rows.Add(ssm);
                        rows.Add(new BreakdownRow("  the rest: projections, innovation test, attention (whole - SSM)", BreakdownKind.Mixer,
                                                  whole.Seconds - ssm.Seconds, count, false, "estimate: a difference of two medians"));
                    }
                    break;
                case AttentionOptions attention:
                    rows.Add(Part($"attention mixer ({attention.Heads} heads{(attention.Window is int w ? $", window {w}" : "")})",
                                  BreakdownKind.Mixer, d, count, true, () => new AttentionMixer(d, 0, attention, settings.Kernels)));
                    break;
                case MambaOptions mamba:
                    rows.Add(Part($"Mamba mixer (d_state {mamba.DState}, expand {mamba.Expand})", BreakdownKind.Mixer, d, count, true, () => new MambaMixer(d, 0, mamba, settings.Kernels)));
                    break;
                case SsdOptions ssd:
                    rows.Add(Part($"Mamba-2 SSD mixer (d_state {ssd.DState}, {(long)ssd.Expand * d / ssd.HeadDim} heads of {ssd.HeadDim}, chunk {ssd.ChunkSize})",
                                  BreakdownKind.Mixer, d, count, true, () => new SsdMixer(d, 0, ssd, settings.Kernels)));
                    break;
                default:
                    rows.Add(new BreakdownRow(kind.Key.GetType().Name, BreakdownKind.Mixer, null, count, true, "not timed: an unknown mixer"));
                    break;
            }
        }
        foreach (IGrouping<FeedForwardOptions, LayerSettings> kind in settings.Layers.Where(l => l.FeedForward is not null)
                                                                                      .GroupBy(l => l.FeedForward!))
        {
            int count = kind.Count();
            rows.Add(kind.Key switch
            {
                MlpOptions mlp => Part($"MLP (hidden {mlp.Hidden}, {mlp.Activation.ToString().ToLowerInvariant()}{(mlp.Gated ? ", gated" : "")})",
                                       BreakdownKind.FeedForward, d, count, true, () => new Mlp(d, mlp)),
                MoeOptions moe => Part($"MoE ({moe.Experts} experts, top {moe.TopK})", BreakdownKind.FeedForward, d, count, true, () => new MixtureOfExperts(d, moe)),
                _ => new BreakdownRow(kind.Key.GetType().Name, BreakdownKind.FeedForward, null, count, true, "not timed: an unknown feed-forward"),
            });
        }
        rows.Add(Head(settings));
        return rows;
    }

    // Forward + backward of one layer built by create, on (B, L, D) input that needs a gradient.
    private BreakdownRow Part(string name, BreakdownKind kind, int dModel, int count, bool inSum, Func<nn.Module<Tensor, Tensor>> create)
    {
        nn.Module<Tensor, Tensor>? layer = null;
        try
        {
            layer = create();
            layer.to(device);
            if (options.Dtype != ScalarType.Float32) layer.to(options.Dtype);
            using var scope = NewDisposeScope();
            Tensor x = randn([options.Batch, options.Length, dModel], options.Dtype, device, requires_grad: true);  // (B, L, D)
            Tensor gradient = randn_like(x, requires_grad: false);
            nn.Module<Tensor, Tensor> timed = layer;
            Timing t = timer.Measure(warmup, runs, _ =>
            {
                using var step = NewDisposeScope();
                timed.forward(x).backward([gradient]);
                timed.zero_grad();
                x.grad?.zero_();
            });
            output.WriteLine($"breakdown {name.Trim()}: {t.Milliseconds}");
            return new BreakdownRow(name, kind, t.Median, count, inSum);
        }
        catch (Exception e)
        {
            output.WriteLine($"breakdown {name.Trim()}: FAILED: {TrainingStepBenchmark.Describe(e)}");
            return new BreakdownRow(name, kind, null, count, inSum, TrainingStepBenchmark.Describe(e));
        }
        finally
        {
            layer?.Dispose();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    // The embedding, the final norm, the head (the embedding's weight when tied) and the loss, as in the model.
    private BreakdownRow Head(ModelSettings settings)
    {
        const string name = "embedding + final norm + head + cross-entropy";
        var modules = new List<nn.Module>();
        try
        {
            var embedding = nn.Embedding(settings.Vocab, settings.DModel);
            var norm = Norms.Create(settings.DModel, settings.Norm);
            var head = settings.TiedEmbeddings ? null : nn.Linear(settings.DModel, settings.Vocab, hasBias: false);
            modules.AddRange(new nn.Module?[] { embedding, norm, head }.OfType<nn.Module>());
            foreach (nn.Module m in modules)
            {
                m.to(device);
                if (options.Dtype != ScalarType.Float32) m.to(options.Dtype);
            }
            using var scope = NewDisposeScope();
            Tensor tokens = randint(0, settings.Vocab, [options.Batch, options.Length], ScalarType.Int64, device);  // (B, L)
            Tensor target = randint(0, settings.Vocab, [options.Batch, options.Length], ScalarType.Int64, device);
            Timing t = timer.Measure(warmup, runs, _ =>
            {
                using var step = NewDisposeScope();
                Tensor hidden = norm.forward(embedding.forward(tokens));                                     // (B, L, D)
                Tensor logits = head?.forward(hidden) ?? nn.functional.linear(hidden, embedding.weight!);   // (B, L, V)
                nn.functional.cross_entropy(logits.reshape(-1, settings.Vocab).to_type(ScalarType.Float32), target.reshape(-1))
                    .backward();
                foreach (nn.Module m in modules) m.zero_grad();
            });
            output.WriteLine($"breakdown {name}: {t.Milliseconds}");
            return new BreakdownRow(name, BreakdownKind.Head, t.Median, 1, true);
        }
        catch (Exception e)
        {
            output.WriteLine($"breakdown {name}: FAILED: {TrainingStepBenchmark.Describe(e)}");
            return new BreakdownRow(name, BreakdownKind.Head, null, 1, true, TrainingStepBenchmark.Describe(e));
        }
        finally
        {
            foreach (nn.Module m in modules) m.Dispose();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }
}
