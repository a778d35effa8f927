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
        public static readonly MambaKind Instance = new MambaKind();

        private MambaKind() { }

        public override string Name => "mamba";

        public override string FieldStem => "Mamba";

        public override IReadOnlyList<Key> Keys { get; } = new[]
        {
            new Key("d_state", "integer", "`16`", "1..256", "state size N per channel"),
            new Key("d_conv", "integer", "`4`", "1..64", "width of the causal depthwise convolution"),
            new Key("expand", "integer", "`2`", "1..16", "d_inner = expand * d_model"),
            new Key("dt_rank", "`auto` \\| integer", "`auto`", "1..1048576", "rank R of the dt projection; `auto` = ceil(d_model / 16)"),
            new Key("dt_min", "real", "`0.001`", "(0, inf), < `dt_max`", "lower end of the dt initialisation range"),
            new Key("dt_max", "real", "`0.1`", "(0, inf)", "upper end of the dt initialisation range"),
            new Key("dt_init_floor", "real", "`1e-4`", "(0, inf)", "floor of the initial dt"),
            new Key("conv_bias", "bool", "`true`", "", "bias of the convolution"),
            new Key("bias", "bool", "`false`", "", "biases on `in_proj` and `out_proj`"),
        };

        /// <summary>The SSM keys of a B'MOJO layer: Mamba's, except 'bias', which B'MOJO shares with its attention.</summary>
        public IReadOnlyList<string> FadingKeyNames => KeyNames.Where(k => k != "bias").ToArray();

        public override MambaPlan Read(ArgumentReader r, ComponentBinder binder) => Read(r, binder, r.Bool("bias", false));

        /// <param name="bias">Read here as a mamba's key, given by B'MOJO as its attention's.</param>
        public MambaPlan Read(ArgumentReader r, ComponentBinder binder, bool bias)
        {
            int dState = r.Int("d_state", 16, 1, 256);
            int dConv = r.Int("d_conv", 4, 1, 64);
            int expand = r.Int("expand", 2, 1, 16);
            int dtRank = r.IntOrWord("dt_rank", "auto", 1, Limits.MaxWidth) ?? (binder.DModel + 15) / 16;
            double dtMin = r.Real("dt_min", 0.001, Bounds.Positive);
            double dtMax = r.Real("dt_max", 0.1, Bounds.Positive);
            double dtInitFloor = r.Real("dt_init_floor", 1e-4, Bounds.Positive);
            bool convBias = r.Bool("conv_bias", true);
            if (dtMin >= dtMax)
                binder.Report(r.ValueOf("dt_min") ?? r.ValueOf("dt_max"), DiagnosticCatalogue.DtRange, Number(dtMin), Number(dtMax));
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
            new OptionsCode(RuntimeNames.MambaOptions, new[] { Expression(m) }, RuntimeNames.MambaMixer);

        public static string Expression(MambaPlan m) =>
            $"new(DState: {Int(m.DState)}, DConv: {Int(m.DConv)}, Expand: {Int(m.Expand)}, DtRank: {Int(m.DtRank)}, " +
            $"DtMin: {Double(m.DtMin)}, DtMax: {Double(m.DtMax)}, DtInitFloor: {Double(m.DtInitFloor)}, " +
            $"ConvBias: {Bool(m.ConvBias)}, Bias: {Bool(m.Bias)})";

        private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }
}
