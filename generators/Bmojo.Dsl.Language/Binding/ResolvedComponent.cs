using System.Collections.Generic;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>A component with its let chain followed: its kind and every argument, each where it was written.</summary>
    /// <param name="Site">Where the component is used (missing keys are reported there).</param>
    internal sealed record ResolvedComponent(
        string Kind,
        Located<ValueSyntax> Site,
        IReadOnlyDictionary<string, Located<AssignmentSyntax>> Arguments)
    {
        public const string None = "none";
    }
}
