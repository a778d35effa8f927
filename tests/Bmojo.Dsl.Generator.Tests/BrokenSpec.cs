namespace Bmojo.Dsl.Generator.Tests;

/// <summary>A spec with one typo, and where its diagnostic must point (one-based, as MSBuild prints it).</summary>
public static class BrokenSpec
{
    public const string Text =
        "# A model with a misspelt key.\n" +
        "model Broken {\n" +
        "  vocab = 64\n" +
        "  d_modle = 64\n" +
        "  layers = 2\n" +
        "  mixer = attention { heads = 4 }\n" +
        "}\n";

    public const string Id = "BMJ0100";
    public const int Line = 4;
    public const int Column = 3;
    public const string Key = "d_modle";
}
