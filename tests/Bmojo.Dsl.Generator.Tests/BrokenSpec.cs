namespace Bmojo.Dsl.Generator.Tests;

/// <summary>A spec with one typo, and where its diagnostic must point (one-based, as MSBuild prints it).</summary>
public static class BrokenSpec
{
    public const string Text =
        "# A model with a misspelt key.\n" +
        "model Broken {\n" +
        "  vocab = 64\n" +
        "  d_model = 64\n" +
        "  layers = 2\n" +
        "  mixer = attention { heads = 4, windw = 8 }\n" +
        "}\n";

    public const string Id = "BMJ0101";
    public const int Line = 6;
    public const int Column = 34;
    public const string Key = "windw";
}
