using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Bmojo.Dsl.Language.Binding;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Emit;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Plan;
using static Bmojo.Dsl.Language.Emit.Literals;

namespace Bmojo.Dsl.Language.Plan
{
    /// <summary>The Mamba selective SSM (state-spaces/mamba <c>mamba_simple.Mamba</c>).</summary>
    /// <param name="DtRank">Resolved rank of the dt projection ("auto" = ceil(d_model / 16)).</param>
    public sealed record MambaPlan(
        int DState,
        int DConv,
        int Expand,
        int DtRank,
        double DtMin,
        double DtMax,
        double DtInitFloor,
        bool ConvBias,
        bool Bias) : MixerPlan;
}

namespace Bmojo.Dsl.Language.Kinds
{
    /// <summary><c>mamba</c>: the selective SSM, state-spaces/mamba's defaults (Runtime <c>MambaMixer</c>).</summary>
    internal sealed class MambaKind : SlotKind<MixerPlan, MambaPlan>
    {
        // The Bmojo.Runtime types the generated code builds.
        private const string Options = "global::Bmojo.Runtime.Mixers.MambaOptions";
        private const string Module = "global::Bmojo.Runtime.Mixers.MambaMixer";

        private static readonly Key DState = Key.Integer("d_state", 16, 1, 256, "state size N per channel");
        private static readonly Key DConv = Key.Integer("d_conv", 4, 1, 64, "width of the causal depthwise convolution");
        private static readonly Key Expand = Key.Integer("expand", 2, 1, 16, "d_inner = expand * d_model");
        private static readonly Key DtRank = Key.Integer("dt_rank", "`auto`", 1, Limits.MaxWidth,
            "rank R of the dt projection; `auto` = ceil(d_model / 16)", type: "`auto` \\| integer");
        private static readonly Key DtMin = Key.Real("dt_min", 0.001, Bounds.Positive, "lower end of the dt initialisation range",
            range: "(0, inf), < `dt_max`");
        private static readonly Key DtMax = Key.Real("dt_max", 0.1, Bounds.Positive, "upper end of the dt initialisation range");
        private static readonly Key DtInitFloor = Key.Real("dt_init_floor", 1e-4, Bounds.Positive, "floor of the initial dt", defaultText: "`1e-4`");
        private static readonly Key ConvBias = Key.Flag("conv_bias", true, "bias of the convolution");
        private static readonly Key Bias = Key.Flag("bias", false, "biases on `in_proj` and `out_proj`");

        // After its keys: static fields initialise in the order they are written.
        public static readonly MambaKind Instance = new MambaKind();

        private MambaKind() { }

        public override string Name => "mamba";

        public override string FieldStem => "Mamba";

        public override IReadOnlyList<Key> Keys { get; } = new[] { DState, DConv, Expand, DtRank, DtMin, DtMax, DtInitFloor, ConvBias, Bias };

        /// <summary>The SSM keys of a B'MOJO layer: Mamba's, except 'bias', which B'MOJO shares with its attention.</summary>
        public IReadOnlyList<string> FadingKeyNames => KeyNames.Where(k => k != Bias.Name).ToArray();

        public override MambaPlan Read(ArgumentReader r, ComponentBinder binder) => Read(r, binder, r.Bool(Bias));

        /// <param name="bias">Read here as a mamba's key, given by B'MOJO as its attention's.</param>
        public MambaPlan Read(ArgumentReader r, ComponentBinder binder, bool bias)
        {
            int dState = r.Int(DState);
            int dConv = r.Int(DConv);
            int expand = r.Int(Expand);
            int dtRank = r.IntOrWord(DtRank, "auto") ?? (binder.DModel + 15) / 16;
            double dtMin = r.Real(DtMin);
            double dtMax = r.Real(DtMax);
            double dtInitFloor = r.Real(DtInitFloor);
            bool convBias = r.Bool(ConvBias);
            if (dtMin >= dtMax)
                binder.Report(r.ValueOf(DtMin.Name) ?? r.ValueOf(DtMax.Name), DiagnosticCatalogue.DtRange, Number(dtMin), Number(dtMax));
            return new MambaPlan(dState, dConv, expand, dtRank, dtMin, dtMax, dtInitFloor, convBias, bias);
        }

        /// <summary>in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj (state-spaces/mamba <c>Mamba</c>).</summary>
        public override long Parameters(MambaPlan mamba, long d)
        {
            long inner = mamba.Expand * d, rank = mamba.DtRank, state = mamba.DState;
            long inProj = d * 2 * inner + (mamba.Bias ? 2 * inner : 0);
            long conv = inner * mamba.DConv + (mamba.ConvBias ? inner : 0);
            long xProj = inner * (rank + 2 * state);
            long dtProj = rank * inner + inner;
            long aLog = inner * state;
            long skip = inner;
            long outProj = inner * d + (mamba.Bias ? d : 0);
            return inProj + conv + xProj + dtProj + aLog + skip + outProj;
        }

        /// <summary>Its state alone: no token is kept.</summary>
        public override MemoryPlan Memory(MambaPlan mamba, long d) => new MemoryPlan(StateFloats(mamba, d), 0, 0, 0);

        /// <summary>The SSM state <c>d_inner·N</c> plus the conv state <c>d_inner·(d_conv-1)</c>.</summary>
        public static long StateFloats(MambaPlan mamba, long d)
        {
            long inner = mamba.Expand * d;
            return inner * mamba.DState + inner * (mamba.DConv - 1);
        }

        public override string Describe(MambaPlan m) => $"mamba(d_state {m.DState})";

        public override string Detail(MambaPlan m) => $"mamba(d_state {m.DState}, d_conv {m.DConv}, expand {m.Expand})";

        public override OptionsCode Emit(MambaPlan m, ModelPlan model) =>
            new OptionsCode(Options, new[] { Expression(m) }, Module);

        public static string Expression(MambaPlan m) =>
            $"new(DState: {Int(m.DState)}, DConv: {Int(m.DConv)}, Expand: {Int(m.Expand)}, DtRank: {Int(m.DtRank)}, " +
            $"DtMin: {Double(m.DtMin)}, DtMax: {Double(m.DtMax)}, DtInitFloor: {Double(m.DtInitFloor)}, " +
            $"ConvBias: {Bool(m.ConvBias)}, Bias: {Bool(m.Bias)})";

        private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }
}
