using System;
using System.Text;

namespace Bmojo.Dsl.Language.Emit
{
    /// <summary>An indented text writer for generated C# (after dotnet/runtime's generators' SourceWriter):
    /// four spaces per level, '\n' line endings whatever the platform, so the output is byte-for-byte stable.</summary>
    public sealed class SourceWriter
    {
        private const int SpacesPerLevel = 4;
        private readonly StringBuilder _text = new StringBuilder();
        private int _indentation;

        /// <summary>Writes one line at the current indentation; an empty line carries no trailing spaces.</summary>
        public SourceWriter WriteLine(string line)
        {
            if (line.IndexOf('\n') >= 0)
                throw new ArgumentException("a line must not contain a line break", nameof(line));
            if (line.Length > 0) _text.Append(' ', _indentation * SpacesPerLevel).Append(line);
            _text.Append('\n');
            return this;
        }

        public SourceWriter WriteLine() => WriteLine(string.Empty);

        /// <summary>Writes <c>{</c> and indents the lines after it.</summary>
        public SourceWriter OpenBlock(string opening = "{")
        {
            WriteLine(opening);
            _indentation++;
            return this;
        }

        /// <summary>Unindents and writes <c>}</c> (or <paramref name="closing"/>, e.g. <c>};</c>).</summary>
        public SourceWriter CloseBlock(string closing = "}")
        {
            if (_indentation == 0) throw new InvalidOperationException("no block is open");
            _indentation--;
            return WriteLine(closing);
        }

        /// <summary>Indents the lines written until <see cref="Unindent"/>, without writing a brace.</summary>
        public SourceWriter Indent()
        {
            _indentation++;
            return this;
        }

        public SourceWriter Unindent()
        {
            if (_indentation == 0) throw new InvalidOperationException("not indented");
            _indentation--;
            return this;
        }

        /// <summary>The text written so far; every block must be closed.</summary>
        public override string ToString()
        {
            if (_indentation != 0) throw new InvalidOperationException($"{_indentation} block(s) left open");
            return _text.ToString();
        }
    }
}
