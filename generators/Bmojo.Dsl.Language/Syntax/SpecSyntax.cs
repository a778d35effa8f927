using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Syntax
{
    /// <summary>The syntax tree of one spec file: its models and the line table that turns spans into line/col.</summary>
    /// <param name="LineStarts">The offset where each line starts, so later stages can place diagnostics.</param>
    public sealed record SpecSyntax(EquatableArray<ModelSyntax> Models, EquatableArray<int> LineStarts);

    /// <summary>An identifier and where it is.</summary>
    public sealed record NameSyntax(string Text, TextSpan Span);

    /// <summary><c>model Name [extends Parent] { members }</c>.</summary>
    /// <param name="Summary">The comment block right above the declaration, one entry per line, '#' removed.</param>
    /// <param name="HasErrors">Syntax errors inside the declaration: the model is reported, never generated.</param>
    public sealed record ModelSyntax(
        NameSyntax Name,
        NameSyntax? Extends,
        EquatableArray<string> Summary,
        EquatableArray<MemberSyntax> Members,
        TextSpan Span,
        bool HasErrors);

    /// <summary>A line of a model body.</summary>
    public abstract record MemberSyntax(TextSpan Span);

    /// <summary><c>key = value</c>, or a layer rule <c>slot every 8 offset 4 = value</c>; also a component argument.</summary>
    public sealed record AssignmentSyntax(NameSyntax Key, SelectorSyntax? Selector, ValueSyntax Value, TextSpan Span)
        : MemberSyntax(Span);

    /// <summary><c>let name = value</c>: a named, reusable component.</summary>
    public sealed record LetSyntax(NameSyntax Name, ValueSyntax Value, TextSpan Span) : MemberSyntax(Span);

    /// <summary>Which layers a slot rule claims.</summary>
    public abstract record SelectorSyntax(TextSpan Span);

    /// <summary><c>every N [offset M]</c>: layers i with i % N == M.</summary>
    public sealed record EverySelectorSyntax(NumberSyntax Every, NumberSyntax? Offset, TextSpan Span)
        : SelectorSyntax(Span);

    /// <summary><c>at [i, j, ...]</c>: the listed layers.</summary>
    public sealed record AtSelectorSyntax(EquatableArray<NumberSyntax> Layers, TextSpan Span) : SelectorSyntax(Span);

    /// <summary><c>pattern</c>: the value is a list repeated over the layers (a fill rule).</summary>
    public sealed record PatternSelectorSyntax(TextSpan Span) : SelectorSyntax(Span);

    /// <summary>The right-hand side of '='.</summary>
    public abstract record ValueSyntax(TextSpan Span);

    /// <summary>An integer or real literal; <c>inf</c> and a leading '-' included.</summary>
    public sealed record NumberSyntax(string Text, double Value, bool IsInteger, TextSpan Span) : ValueSyntax(Span);

    /// <summary>A double-quoted string, escapes resolved.</summary>
    public sealed record StringSyntax(string Value, TextSpan Span) : ValueSyntax(Span);

    /// <summary>A bare word: true, false, none, an enumeration value, a component kind or a let name.</summary>
    public sealed record IdentifierSyntax(string Name, TextSpan Span) : ValueSyntax(Span);

    /// <summary><c>kind { key = value, ... }</c>: a component with arguments (kind may name a let).</summary>
    public sealed record ComponentSyntax(NameSyntax Kind, EquatableArray<AssignmentSyntax> Arguments, TextSpan Span)
        : ValueSyntax(Span);

    /// <summary><c>[a, b, ...]</c>.</summary>
    public sealed record ListSyntax(EquatableArray<ValueSyntax> Items, TextSpan Span) : ValueSyntax(Span);
}
