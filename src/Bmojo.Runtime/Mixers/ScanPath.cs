namespace Bmojo.Runtime.Mixers;

/// <summary>Which implementation of the selective scan a <see cref="MambaMixer"/> runs. All give the same function.</summary>
public enum ScanPath
{
    /// <summary>The chunked parallel scan (<see cref="ChunkedSelectiveScan"/>): the default, fast on CPU.</summary>
    Chunked,

    /// <summary>The exact sequential scan (<see cref="Reference.SelectiveScanReference"/>): one step per token.</summary>
    Sequential,
}
