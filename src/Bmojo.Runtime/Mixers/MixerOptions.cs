namespace Bmojo.Runtime.Mixers;

/// <summary>The options of a token mixer: <see cref="AttentionOptions"/>, <see cref="MambaOptions"/> or
/// <see cref="BmojoOptions"/>.</summary>
public abstract record MixerOptions;
