using System.Text.RegularExpressions;
using Bmojo.Dsl.Language.Emit;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>Every double in a plan reaches the generated code as a C# double literal that reads back exactly.</summary>
public sealed class LiteralTests
{
    [Property(MaxTest = 500)]
    public Property Any_finite_double_round_trips_through_the_generated_literal() =>
        Prop.ForAll(ArbMap.Default.ArbFor<NormalFloat>(), value => Assert.Equal(value.Get, EmittedEps(value.Get)));

    [Theory]
    [InlineData(1e-5, "1E-05")]
    [InlineData(10000.0, "10000.0")]
    [InlineData(0.1, "0.1")]
    [InlineData(-1.0, "-1.0")]
    [InlineData(double.PositiveInfinity, "double.PositiveInfinity")]
    [InlineData(double.NegativeInfinity, "double.NegativeInfinity")]
    public void Literals_are_the_shortest_exact_form(double value, string literal)
    {
        Assert.Equal(literal, EpsLiteral(value));
        if (!double.IsInfinity(value)) Assert.Equal(value, EmittedEps(value));
    }

    /// <summary>The text of the norm epsilon in the generated class.</summary>
    private static string EpsLiteral(double eps)
    {
        string source = ModelEmitter.Emit(HandBuiltPlans.Transformer with
        {
            Sizes = HandBuiltPlans.Transformer.Sizes with { NormEps = eps },
        });
        return Regex.Match(source, @"NormOptions = new\([^,]+, Eps: (?<eps>[^)]+)\);").Groups["eps"].Value;
    }

    /// <summary>The value the C# compiler gives the emitted literal.</summary>
    private static double EmittedEps(double eps)
    {
        ExpressionSyntax expression = SyntaxFactory.ParseExpression(EpsLiteral(eps));
        Assert.Empty(expression.GetDiagnostics());
        return expression switch
        {
            LiteralExpressionSyntax literal => Assert.IsType<double>(literal.Token.Value),
            PrefixUnaryExpressionSyntax { Operand: LiteralExpressionSyntax literal } when expression.IsKind(SyntaxKind.UnaryMinusExpression)
                => -Assert.IsType<double>(literal.Token.Value),
            _ => throw new Xunit.Sdk.XunitException($"not a double literal: {expression}"),
        };
    }
}
