namespace Bmojo.Runtime.Mixers;

/// <summary>The derived sizes of a Mamba mixer, checked: d_inner = expand * d_model, dt_rank (0: the reference's auto).</summary>
internal sealed record MambaShape(long DInner, long DtRank)
{
    public static MambaShape Of(int dModel, int layerIndex, MambaOptions options)
    {
        string where = $"{nameof(MambaMixer)} (layer {layerIndex})";
        if (dModel < 1) throw new ArgumentOutOfRangeException(nameof(dModel), dModel, $"{where}: d_model must be at least 1");
        if (options.DState < 1) throw new ArgumentException($"{where}: d_state must be at least 1, got {options.DState}", nameof(options));
        if (options.DConv < 1) throw new ArgumentException($"{where}: d_conv must be at least 1, got {options.DConv}", nameof(options));
        if (options.Expand < 1) throw new ArgumentException($"{where}: expand must be at least 1, got {options.Expand}", nameof(options));
        if (options.DtRank < 0) throw new ArgumentException($"{where}: dt_rank must be at least 1 (0: auto), got {options.DtRank}", nameof(options));
        if (!(options.DtMin > 0 && options.DtMin <= options.DtMax))
            throw new ArgumentException($"{where}: need 0 < dt_min <= dt_max, got dt_min {options.DtMin}, dt_max {options.DtMax}", nameof(options));
        long dtRank = options.DtRank == 0 ? MambaOptions.AutoDtRank(dModel) : options.DtRank;
        return new MambaShape((long)options.Expand * dModel, dtRank);
    }
}
