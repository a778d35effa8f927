using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Kinds;
using Bmojo.Dsl.Language.Syntax;

namespace Bmojo.Dsl.Language.Binding
{
    /// <summary>Typed reads of a component's (or a model's) keys. A bad or missing value is reported at its token and
    /// read as a fallback, so binding goes on and reports every error; the model is then left out of the output.</summary>
    internal sealed class ArgumentReader
    {
        private readonly IReadOnlyDictionary<string, Located<AssignmentSyntax>> _arguments;
        private readonly Located<NameSyntax> _site;
        private readonly string _owner;
        private readonly BindingReporter _reporter;
        private readonly HashSet<string> _read = new HashSet<string>();

        /// <param name="site">Where a missing key is reported: the component's kind, or the model's name.</param>
        /// <param name="owner">How messages name the owner: "attention", "model 'Jamba'".</param>
        public ArgumentReader(
            IReadOnlyDictionary<string, Located<AssignmentSyntax>> arguments, Located<NameSyntax> site, string owner, BindingReporter reporter)
        {
            _arguments = arguments;
            _site = site;
            _owner = owner;
            _reporter = reporter;
        }

        public bool IsStated(string key) => _arguments.ContainsKey(key);

        /// <summary>The raw value of a key (for values that are components), marking the key read.</summary>
        public Located<ValueSyntax>? Read(string key)
        {
            _read.Add(key);
            return _arguments.TryGetValue(key, out Located<AssignmentSyntax>? argument)
                ? new Located<ValueSyntax>(argument.Node.Value, argument.Owner)
                : null;
        }

        /// <summary>The span of a key's value, where a cross-key check (heads divide d_model) is reported.</summary>
        public Located<ValueSyntax>? ValueOf(string key) =>
            _arguments.TryGetValue(key, out Located<AssignmentSyntax>? argument)
                ? new Located<ValueSyntax>(argument.Node.Value, argument.Owner)
                : null;

        public int RequiredInt(string key, int min, int max, string meaning)
        {
            if (!IsStated(key))
            {
                _read.Add(key);
                if (!_reporter.SuppressMissing)
                    _reporter.Report(_site, DiagnosticCatalogue.MissingKey, _site.Node.Span, _owner, key, meaning);
                return Math.Max(min, 1);
            }
            return Int(key, min, min, max);
        }

        public int Int(string key, int fallback, int min, int max)
        {
            Located<ValueSyntax>? value = Read(key);
            if (value == null) return fallback;
            if (value.Node is NumberSyntax { IsInteger: true } number)
            {
                if (number.Value >= min && number.Value <= max) return (int)number.Value;
                _reporter.Report(value, DiagnosticCatalogue.OutOfRange, number.Span, key, $"{min}..{max}", number.Text);
                return Clamp(fallback, min, max);
            }
            WrongType(key, "an integer", value);
            return Clamp(fallback, min, max);
        }

        /// <summary>An integer, or a word (<c>none</c>, <c>auto</c>) that means the default: null when the key is
        /// absent or holds the word.</summary>
        public int? IntOrWord(string key, string word, int min, int max)
        {
            Located<ValueSyntax>? value = ValueOf(key);
            if (value == null || value.Node is IdentifierSyntax identifier && identifier.Name == word)
            {
                _read.Add(key);
                return null;
            }
            if (value.Node is NumberSyntax { IsInteger: true }) return Int(key, min, min, max);
            _read.Add(key);
            WrongType(key, $"an integer or '{word}'", value);
            return null;
        }

        public double Real(string key, double fallback, Bounds bounds)
        {
            Located<ValueSyntax>? value = Read(key);
            if (value == null) return fallback;
            if (value.Node is NumberSyntax number)
            {
                if (bounds.Contains(number.Value)) return number.Value;
                _reporter.Report(value, DiagnosticCatalogue.OutOfRange, number.Span, key, bounds.ToString(), number.Text);
                return fallback;
            }
            WrongType(key, "a number", value);
            return fallback;
        }

        public bool Bool(string key, bool fallback)
        {
            Located<ValueSyntax>? value = Read(key);
            if (value == null) return fallback;
            if (value.Node is IdentifierSyntax { Name: "true" }) return true;
            if (value.Node is IdentifierSyntax { Name: "false" }) return false;
            WrongType(key, "true or false", value);
            return fallback;
        }

        public T Enum<T>(string key, T fallback, params (string Word, T Value)[] options)
        {
            Located<ValueSyntax>? value = Read(key);
            if (value == null) return fallback;
            if (value.Node is IdentifierSyntax identifier)
                foreach ((string word, T option) in options)
                    if (identifier.Name == word) return option;
            string words = string.Join(", ", options.Select(o => o.Word));
            WrongType(key, $"one of {words}", value, Suggestions.DidYouMean(ValueText.Describe(value.Node), options.Select(o => o.Word)));
            return fallback;
        }

        public string? String(string key)
        {
            Located<ValueSyntax>? value = Read(key);
            if (value == null) return null;
            if (value.Node is StringSyntax text) return text.Value;
            WrongType(key, "a string", value);
            return null;
        }

        /// <summary>A kind's key (Kinds/), read with the default and range of its table.</summary>
        public int Int(Key key) => Int(key.Name, key.IntDefault, key.Min, key.Max);

        /// <summary>A kind's key whose default depends on other values.</summary>
        public int Int(Key key, int fallback) => Int(key.Name, fallback, key.Min, key.Max);

        public int RequiredInt(Key key, string meaning) => RequiredInt(key.Name, key.Min, key.Max, meaning);

        public int? IntOrWord(Key key, string word) => IntOrWord(key.Name, word, key.Min, key.Max);

        public double Real(Key key) => Real(key.Name, key.RealDefault, key.Bounds);

        public bool Bool(Key key) => Bool(key.Name, key.FlagDefault);

        /// <summary>Reports a cross-key check at <paramref name="key"/>'s value, or, when the key is not stated (its
        /// default does not fit), at the component's kind.</summary>
        public void ReportAt(string key, DiagnosticDescriptor descriptor, params object[] args)
        {
            Located<ValueSyntax>? value = ValueOf(key);
            if (value != null) _reporter.Report(value, descriptor, value.Node.Span, args);
            else _reporter.Report(_site, descriptor, _site.Node.Span, args);
        }

        /// <summary>Reports a stated key that does not apply here and marks it read.</summary>
        public void NotApplicable(string key, string reason)
        {
            if (!_arguments.TryGetValue(key, out Located<AssignmentSyntax>? argument)) return;
            _read.Add(key);
            _reporter.Report(argument, DiagnosticCatalogue.KeyNotApplicable, argument.Node.Key.Span, key, _owner, reason);
        }

        /// <summary>Reports every key no read asked for, with the closest known key.</summary>
        public void ReportUnknownKeys(IReadOnlyList<string> known)
        {
            foreach (KeyValuePair<string, Located<AssignmentSyntax>> argument in _arguments)
            {
                if (_read.Contains(argument.Key)) continue;
                _reporter.Report(argument.Value, DiagnosticCatalogue.UnknownComponentKey, argument.Value.Node.Key.Span,
                    argument.Key, _owner, Suggestions.DidYouMean(argument.Key, known));
            }
        }

        private void WrongType(string key, string expected, Located<ValueSyntax> value, string suggestion = "") =>
            _reporter.Report(value, DiagnosticCatalogue.WrongType, value.Node.Span, key, expected, ValueText.Describe(value.Node), suggestion);

        private static int Clamp(int value, int min, int max) => Math.Min(Math.Max(value, min), max);
    }

    /// <summary>A real interval, written as the messages show it: "(0, inf)", "[0, 1]".</summary>
    internal readonly record struct Bounds(double Min, bool MinInclusive, double Max, bool MaxInclusive)
    {
        public static Bounds Positive => new Bounds(0, false, double.PositiveInfinity, false);

        public static Bounds NonNegative => new Bounds(0, true, double.PositiveInfinity, false);

        public static Bounds Any => new Bounds(double.NegativeInfinity, true, double.PositiveInfinity, true);

        public bool Contains(double value) =>
            (MinInclusive ? value >= Min : value > Min) && (MaxInclusive ? value <= Max : value < Max);

        public override string ToString() =>
            (MinInclusive ? "[" : "(") + Format(Min) + ", " + Format(Max) + (MaxInclusive ? "]" : ")");

        private static string Format(double value) =>
            double.IsPositiveInfinity(value) ? "inf" : double.IsNegativeInfinity(value) ? "-inf" : value.ToString("R", CultureInfo.InvariantCulture);
    }
}
