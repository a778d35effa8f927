namespace Bmojo.Dsl.Language.Diagnostics
{
    /// <summary>One entry of the catalogue: a stable id, a severity and a composite message format.</summary>
    /// <param name="Title">A short name for the table in docs/spec-language.md.</param>
    /// <param name="MessageFormat">A <see cref="string.Format(string, object[])"/> format over the arguments.</param>
    public sealed record DiagnosticDescriptor(string Id, Severity Severity, string Title, string MessageFormat);
}
