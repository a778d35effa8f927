namespace Bmojo.Dsl.Language.Syntax
{
    /// <summary>The syntax tree of one spec file (placeholder: the front-end work defines its members;
    /// it must stay an equatable record).</summary>
    public sealed record SpecSyntax;
}
