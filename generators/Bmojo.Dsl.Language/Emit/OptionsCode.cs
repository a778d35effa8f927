namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>How the generated class builds one mixer or feed-forward: a kind's emission.</summary>
    /// <param name="OptionsType">The Bmojo.Runtime options record.</param>
    /// <param name="Initializer">Its initializer: one line, or several when long.</param>
    /// <param name="ModuleType">The Bmojo.Runtime module built from it.</param>
    internal sealed record OptionsCode(string OptionsType, string[] Initializer, string ModuleType);
}
