using System.Collections.Generic;
using System.Globalization;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>Mamba-2's SSD mixer (Dao &amp; Gu 2024, "Transformers are SSMs"; state-spaces/mamba <c>Mamba2</c>):
    /// <paramref name="Heads"/> heads of <paramref name="HeadDim"/> channels, one scalar decay per head.</summary>
    /// <param name="Heads">Resolved: d_inner / headdim.</param>
    /// <param name="ChunkSize">Tokens per chunk of the chunked algorithm; the function does not depend on it.</param>
    public sealed record SsdPlan(
        int DState,
        int DConv,
        int Expand,
        int HeadDim,
        int Heads,
        int NGroups,
        int ChunkSize,
        double DtMin,
        double DtMax,
        double DtInitFloor,
        bool ConvBias,
        bool Bias) : MixerPlan;
}

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary><c>ssd</c>: Mamba-2's state space duality mixer, state-spaces/mamba <c>Mamba2</c>'s keys and defaults
    /// (Runtime <c>SsdMixer</c>).</summary>
    internal sealed class SsdKind : SlotKind<MixerPlan, SsdPlan>
    {
        // The Bmojo.Runtime types the generated code builds.
        private const string Options = "global::Bmojo.Runtime.Mixers.SsdOptions";
        private const string Module = "global::Bmojo.Runtime.Mixers.SsdMixer";

        private static readonly Key DState = Key.Integer("d_state", 128, 1, 256, "state size N per head (Mamba-2 uses 64 or 128)");
        private static readonly Key DConv = Key.Integer("d_conv", 4, 1, 64, "width of the causal depthwise convolution over x, B and C");
        private static readonly Key Expand = Key.Integer("expand", 2, 1, 16, "d_inner = expand * d_model");
        private static readonly Key HeadDim = Key.Integer("headdim", "`64`", 1, Limits.MaxWidth,
            "channels P per head; heads H = d_inner / P", range: "1.., divides d_inner");
        private static readonly Key Heads = Key.Integer("heads", "d_inner / `headdim`", 1, Limits.MaxWidth,
            "heads H instead of `headdim` (then P = d_inner / H); an error with `headdim`", range: "1.., divides d_inner");
        private static readonly Key NGroups = Key.Integer("ngroups", 1, 1, Limits.MaxWidth,
            "groups of heads that share B and C (as GQA shares keys)") with { Range = "1.., divides heads" };
        private static readonly Key ChunkSize = Key.Integer("chunk_size", 256, 1, Limits.MaxTokens,
            "tokens per chunk of the chunked SSD algorithm; the function does not depend on it");
        private static readonly Key DtMin = Key.Real("dt_min", 0.001, Bounds.Positive, "lower end of the dt initialisation range",
            range: "(0, inf), < `dt_max`");
        private static readonly Key DtMax = Key.Real("dt_max", 0.1, Bounds.Positive, "upper end of the dt initialisation range");
        private static readonly Key DtInitFloor = Key.Real("dt_init_floor", 1e-4, Bounds.Positive, "floor of the initial dt", defaultText: "`1e-4`");
        private static readonly Key ConvBias = Key.Flag("conv_bias", true, "bias of the convolution");
        private static readonly Key Bias = Key.Flag("bias", false, "biases on `in_proj` and `out_proj`");

        private const int DefaultHeadDim = 64;

        // After its keys: static fields initialise in the order they are written.
        public static readonly SsdKind Instance = new SsdKind();

        private SsdKind() { }

        public override string Name => "ssd";

        public override string FieldStem => "Ssd";

        public override IReadOnlyList<Key> Keys { get; } =
            new[] { DState, DConv, Expand, HeadDim, Heads, NGroups, ChunkSize, DtMin, DtMax, DtInitFloor, ConvBias, Bias };

        public override SsdPlan Read(ArgumentReader r, ComponentBinder binder)
        {
            int dState = r.Int(DState);
            int dConv = r.Int(DConv);
            int expand = r.Int(Expand);
            long inner = (long)expand * binder.DModel;
            int headDim, heads;
            if (r.IsStated(Heads.Name))
            {
                r.NotApplicable(HeadDim.Name, "'heads' is stated, which sets headdim = d_inner / heads; state one of the two");
                heads = r.Int(Heads, 1);
                headDim = (int)System.Math.Max(1, inner / heads);
                if (binder.DModelValid && inner % heads != 0)
                    r.ReportAt(Heads.Name, DiagnosticCatalogue.MustDivide, Heads.Name, heads, "d_inner = expand * d_model", inner);
            }
            else
            {
                headDim = r.Int(HeadDim, DefaultHeadDim);
                heads = (int)System.Math.Max(1, inner / headDim);
                if (binder.DModelValid && inner % headDim != 0)
                    r.ReportAt(HeadDim.Name, DiagnosticCatalogue.MustDivide, HeadDim.Name, headDim, "d_inner = expand * d_model", inner);
            }
            int nGroups = r.Int(NGroups);
            if (binder.DModelValid && heads % nGroups != 0)
                r.ReportAt(NGroups.Name, DiagnosticCatalogue.MustDivide, NGroups.Name, nGroups, "heads", heads);
            int chunkSize = r.Int(ChunkSize);
            double dtMin = r.Real(DtMin);
            double dtMax = r.Real(DtMax);
            double dtInitFloor = r.Real(DtInitFloor);
            bool convBias = r.Bool(ConvBias);
            bool bias = r.Bool(Bias);
            if (dtMin >= dtMax)
                binder.Report(r.ValueOf(DtMin.Name) ?? r.ValueOf(DtMax.Name), DiagnosticCatalogue.DtRange, Number(dtMin), Number(dtMax));
            return new SsdPlan(dState, dConv, expand, headDim, heads, nGroups, chunkSize, dtMin, dtMax, dtInitFloor, convBias, bias);
        }

        /// <summary>in_proj (z, x, B, C, dt), conv1d (over x, B, C), dt_bias, A_log, D, norm (gated RMSNorm), out_proj
        /// (state-spaces/mamba <c>Mamba2</c>, D per head).</summary>
        public override long Parameters(SsdPlan ssd, long d)
        {
            long inner = ssd.Expand * d, heads = ssd.Heads;
            long inProjWidth = 2 * inner + 2L * ssd.NGroups * ssd.DState + heads;
            long inProj = d * inProjWidth + (ssd.Bias ? inProjWidth : 0);
            long convDim = ConvChannels(ssd, d);
            long conv = convDim * ssd.DConv + (ssd.ConvBias ? convDim : 0);
            long perHead = 3 * heads;                                   // dt_bias, A_log, D
            long norm = inner;
            long outProj = inner * d + (ssd.Bias ? d : 0);
            return inProj + conv + perHead + norm + outProj;
        }

        /// <summary>Its state alone: no token is kept.</summary>
        public override MemoryPlan Memory(SsdPlan ssd, long d) => new MemoryPlan(StateFloats(ssd, d), 0, 0, 0);

        /// <summary>The SSM state <c>H·P·N = d_inner·N</c> plus the conv state <c>(d_inner + 2·G·N)·(d_conv-1)</c>.</summary>
        public static long StateFloats(SsdPlan ssd, long d) =>
            ssd.Expand * d * ssd.DState + ConvChannels(ssd, d) * (ssd.DConv - 1);

        /// <summary>The channels of the depthwise convolution: x, B and C, <c>d_inner + 2·G·N</c>.</summary>
        private static long ConvChannels(SsdPlan ssd, long d) => ssd.Expand * d + 2L * ssd.NGroups * ssd.DState;

        public override string Describe(SsdPlan s) => $"ssd(d_state {s.DState})";

        public override string Detail(SsdPlan s) =>
            $"ssd(d_state {s.DState}, {s.Heads} heads of {s.HeadDim}{(s.NGroups > 1 ? $", {s.NGroups} groups" : "")}, chunk {s.ChunkSize})";

        public override OptionsCode Emit(SsdPlan s, ModelPlan model) => new OptionsCode(Options, new[]
        {
            $"new(DState: {Int(s.DState)}, DConv: {Int(s.DConv)}, Expand: {Int(s.Expand)}, HeadDim: {Int(s.HeadDim)}, " +
            $"NGroups: {Int(s.NGroups)}, ChunkSize: {Int(s.ChunkSize)},",
            $"DtMin: {Double(s.DtMin)}, DtMax: {Double(s.DtMax)}, DtInitFloor: {Double(s.DtInitFloor)}, " +
            $"ConvBias: {Bool(s.ConvBias)}, Bias: {Bool(s.Bias)})",
        }, Module);

        private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }
}
