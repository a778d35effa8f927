using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>A model's syntax and the file it was declared in.</summary>
    internal sealed class ModelDeclaration
    {
        public ModelDeclaration(ModelSyntax syntax, SourceFile file)
        {
            Syntax = syntax;
            File = file;
        }

        public ModelSyntax Syntax { get; }

        public SourceFile File { get; }

        public string Name => Syntax.Name.Text;
    }

    /// <summary>A syntax node and the model declaration it was written in (for its file and line).</summary>
    internal sealed record Located<T>(T Node, ModelDeclaration Owner);
}
