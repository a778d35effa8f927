namespace Bmojo.Runtime.Ops.Ssd;

/// <summary>Which SSD implementation an <see cref="Mixers.SsdMixer"/> forward ran. Both compute the same function.</summary>
public enum SsdPath
{
    /// <summary><see cref="ChunkedSsd"/>: a whole sequence, or a cached chunk of two or more tokens.</summary>
    Chunked,

    /// <summary><see cref="SsdReference.Step"/>: one cached token through the recurrence.</summary>
    Step,
}
