package io.qlora4j.model.tokenizer.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Jinja2 filters, tests, global functions and Python string/dict methods the chat-template interpreter
 * implements, with the semantics of Jinja2 3.1 and Python 3. All string results keep their {@link TaggedText} tags.
 * Anything else is an {@link EvalException} naming it.
 *
 * <ul>
 *   <li>filters: trim, length/count, upper, lower, title, capitalize, first, last, join, default/d, string, int,
 *       float, list, reverse, items, replace, tojson, safe;</li>
 *   <li>tests: defined, undefined, none, string, number, integer, float, boolean, mapping, iterable, sequence,
 *       true, false, even, odd, divisibleby;</li>
 *   <li>functions: raise_exception (transformers), range, namespace, dict;</li>
 *   <li>str methods: strip, lstrip, rstrip, startswith, endswith, upper, lower, title, capitalize, split, replace,
 *       join; dict methods: items, keys, values, get.</li>
 * </ul>
 */
final class Builtins {
    private Builtins() {
    }

    // ---- filters

    static Value filter(String name, Value v, List<Value> args, Map<String, Value> kwargs) {
        return switch (name) {
            case "trim" -> new Value.Str(strip(string(v, "trim"), arg(args, kwargs, 0, "chars"), true, true));
            case "length", "count" -> new Value.Int(length(v));
            case "upper" -> new Value.Str(string(v, name).mapRuns(String::toUpperCase));
            case "lower" -> new Value.Str(string(v, name).mapRuns(String::toLowerCase));
            case "title" -> new Value.Str(string(v, name).mapRuns(Builtins::title));
            case "capitalize" -> new Value.Str(capitalize(string(v, name)));
            case "first" -> {
                List<Value> items = items(v, name);
                yield items.isEmpty() ? new Value.Undefined("first of empty sequence") : items.getFirst();
            }
            case "last" -> {
                List<Value> items = items(v, name);
                yield items.isEmpty() ? new Value.Undefined("last of empty sequence") : items.getLast();
            }
            case "join" -> {
                Value sep = arg(args, kwargs, 0, "d");
                TaggedText separator = sep == null ? TaggedText.EMPTY : Value.str(sep);
                TaggedText out = TaggedText.EMPTY;
                List<Value> items = items(v, name);
                for (int i = 0; i < items.size(); i++) {
                    out = (i == 0 ? out : out.concat(separator)).concat(Value.str(items.get(i)));
                }
                yield new Value.Str(out);
            }
            case "default", "d" -> {
                Value fallback = arg(args, kwargs, 0, "default_value");
                Value bool = arg(args, kwargs, 1, "boolean");
                boolean useFallback = v instanceof Value.Undefined || (bool != null && Value.truthy(bool) && !Value.truthy(v));
                yield useFallback ? (fallback == null ? Value.Str.of("") : fallback) : v;
            }
            case "string" -> new Value.Str(Value.str(v));
            case "int" -> toInt(v);
            case "float" -> toFloat(v);
            case "list" -> new Value.ListValue(items(v, name));
            case "reverse" -> {
                if (v instanceof Value.Str s) {
                    yield Value.Str.of(new StringBuilder(s.value()).reverse().toString());
                }
                yield new Value.ListValue(items(v, name).reversed());
            }
            case "items" -> {
                if (!(v instanceof Value.DictValue d)) {
                    throw new EvalException("filter 'items' needs a dict, got " + Value.typeName(v));
                }
                yield new Value.ListValue(dictItems(d));
            }
            case "replace" -> replace(string(v, name), args, kwargs);
            case "tojson" -> {
                if (!kwargs.isEmpty() || !args.isEmpty()) {
                    throw new EvalException("filter 'tojson' with arguments (indent, ...) is not supported");
                }
                yield Value.Str.of(Json.write(v));
            }
            case "safe" -> v;
            default -> throw new EvalException("unknown filter '" + name + "'");
        };
    }

    // ---- tests

    static boolean test(String name, Value v, List<Value> args) {
        return switch (name) {
            case "defined" -> !(v instanceof Value.Undefined);
            case "undefined" -> v instanceof Value.Undefined;
            case "none" -> v instanceof Value.None;
            case "string" -> v instanceof Value.Str;
            case "number" -> v instanceof Value.Int || v instanceof Value.Flt;
            case "integer" -> v instanceof Value.Int;
            case "float" -> v instanceof Value.Flt;
            case "boolean" -> v instanceof Value.Bool;
            case "true" -> v instanceof Value.Bool b && b.value();
            case "false" -> v instanceof Value.Bool b && !b.value();
            case "mapping" -> v instanceof Value.DictValue;
            case "iterable" -> v instanceof Value.Str || v instanceof Value.ListValue || v instanceof Value.DictValue;
            case "sequence" -> v instanceof Value.Str || v instanceof Value.ListValue || v instanceof Value.DictValue;
            case "even" -> integer(v, "even") % 2 == 0;
            case "odd" -> integer(v, "odd") % 2 != 0;
            case "divisibleby" -> {
                if (args.size() != 1) {
                    throw new EvalException("test 'divisibleby' needs one argument");
                }
                long d = integer(args.getFirst(), "divisibleby");
                yield d != 0 && integer(v, "divisibleby") % d == 0;
            }
            default -> throw new EvalException("unknown test '" + name + "'");
        };
    }

    // ---- global functions

    /** Calls a global function; {@code raise_exception} throws {@link TemplateException} itself (see interpreter). */
    static Value function(String name, List<Value> args, Map<String, Value> kwargs) {
        return switch (name) {
            case "range" -> {
                if (args.isEmpty() || args.size() > 3 || !kwargs.isEmpty()) {
                    throw new EvalException("range() takes 1 to 3 positional arguments");
                }
                long start = args.size() == 1 ? 0 : integer(args.get(0), "range");
                long stop = integer(args.get(args.size() == 1 ? 0 : 1), "range");
                long step = args.size() == 3 ? integer(args.get(2), "range") : 1;
                if (step == 0) {
                    throw new EvalException("range() step must not be zero");
                }
                List<Value> out = new ArrayList<>();
                for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
                    out.add(new Value.Int(i));
                }
                yield new Value.ListValue(out);
            }
            case "namespace" -> {
                Map<String, Value> attributes = new LinkedHashMap<>();
                for (Value a : args) {
                    if (!(a instanceof Value.DictValue d)) {
                        throw new EvalException("namespace() takes a dict or keyword arguments, got " + Value.typeName(a));
                    }
                    attributes.putAll(d.entries());
                }
                attributes.putAll(kwargs);
                yield new Value.Namespace(attributes);
            }
            case "dict" -> {
                if (!args.isEmpty()) {
                    throw new EvalException("dict() with positional arguments is not supported; use dict(key=value)");
                }
                yield new Value.DictValue(kwargs);
            }
            default -> throw new EvalException("unknown function '" + name + "'");
        };
    }

    // ---- methods

    static Value method(Value target, String name, List<Value> args, Map<String, Value> kwargs) {
        if (target instanceof Value.Str s) {
            return stringMethod(s.text(), name, args, kwargs);
        }
        if (target instanceof Value.DictValue d) {
            return switch (name) {
                case "items" -> new Value.ListValue(dictItems(d));
                case "keys" -> new Value.ListValue(d.entries().keySet().stream().map(k -> (Value) Value.Str.of(k)).toList());
                case "values" -> new Value.ListValue(new ArrayList<>(d.entries().values()));
                case "get" -> {
                    Value key = arg(args, kwargs, 0, "key");
                    Value fallback = arg(args, kwargs, 1, "default");
                    Value found = key instanceof Value.Str k ? d.entries().get(k.value()) : null;
                    yield found != null ? found : fallback != null ? fallback : Value.NONE;
                }
                default -> throw new EvalException("unknown dict method '" + name + "'");
            };
        }
        if (target instanceof Value.ListValue && (name.equals("append") || name.equals("extend") || name.equals("pop"))) {
            throw new EvalException("list." + name + "() is not allowed: the template sandbox is immutable"
                    + " (transformers renders with ImmutableSandboxedEnvironment)");
        }
        if (target instanceof Value.Undefined u) {
            throw new EvalException("'" + u.name() + "' is undefined");
        }
        throw new EvalException("unknown method '" + name + "' on " + Value.typeName(target));
    }

    private static Value stringMethod(TaggedText s, String name, List<Value> args, Map<String, Value> kwargs) {
        return switch (name) {
            case "strip" -> new Value.Str(strip(s, arg(args, kwargs, 0, "chars"), true, true));
            case "lstrip" -> new Value.Str(strip(s, arg(args, kwargs, 0, "chars"), true, false));
            case "rstrip" -> new Value.Str(strip(s, arg(args, kwargs, 0, "chars"), false, true));
            case "startswith", "endswith" -> {
                Value affix = arg(args, kwargs, 0, "prefix");
                List<Value> options = affix instanceof Value.ListValue l ? l.items() : affix == null ? List.of() : List.of(affix);
                boolean match = false;
                for (Value option : options) {
                    if (!(option instanceof Value.Str o)) {
                        throw new EvalException(name + "() needs a string or a tuple of strings, got " + Value.typeName(option));
                    }
                    match |= name.equals("startswith") ? s.text().startsWith(o.value()) : s.text().endsWith(o.value());
                }
                if (options.isEmpty()) {
                    throw new EvalException(name + "() needs an argument");
                }
                yield Value.bool(match);
            }
            case "upper" -> new Value.Str(s.mapRuns(String::toUpperCase));
            case "lower" -> new Value.Str(s.mapRuns(String::toLowerCase));
            case "title" -> new Value.Str(s.mapRuns(Builtins::title));
            case "capitalize" -> new Value.Str(capitalize(s));
            case "split" -> split(s, arg(args, kwargs, 0, "sep"), arg(args, kwargs, 1, "maxsplit"));
            case "replace" -> replace(s, args, kwargs);
            case "join" -> {
                Value iterable = arg(args, kwargs, 0, "iterable");
                if (iterable == null) {
                    throw new EvalException("join() needs an iterable");
                }
                TaggedText out = TaggedText.EMPTY;
                List<Value> items = items(iterable, "join");
                for (int i = 0; i < items.size(); i++) {
                    if (!(items.get(i) instanceof Value.Str item)) {
                        throw new EvalException("str.join() needs strings, item " + i + " is " + Value.typeName(items.get(i)));
                    }
                    out = (i == 0 ? out : out.concat(s)).concat(item.text());
                }
                yield new Value.Str(out);
            }
            default -> throw new EvalException("unknown string method '" + name + "'");
        };
    }

    // ---- helpers shared with the interpreter

    /** The elements a for loop or a filter iterates: list items, string characters, dict keys. */
    static List<Value> items(Value v, String what) {
        return switch (v) {
            case Value.ListValue l -> l.items();
            case Value.DictValue d -> d.entries().keySet().stream().map(k -> (Value) Value.Str.of(k)).toList();
            case Value.Str s -> {
                List<Value> chars = new ArrayList<>();
                TaggedText t = s.text();
                for (int i = 0; i < t.length(); ) {
                    int len = Character.charCount(t.text().codePointAt(i));
                    chars.add(new Value.Str(t.slice(i, i + len)));
                    i += len;
                }
                yield chars;
            }
            case Value.Undefined u -> List.of();
            default -> throw new EvalException(what + ": " + Value.typeName(v) + " is not iterable");
        };
    }

    static long length(Value v) {
        return switch (v) {
            case Value.Str s -> s.value().codePointCount(0, s.value().length());
            case Value.ListValue l -> l.items().size();
            case Value.DictValue d -> d.entries().size();
            case Value.Undefined u -> 0;
            default -> throw new EvalException("object of type " + Value.typeName(v) + " has no length");
        };
    }

    static long integer(Value v, String what) {
        if (v instanceof Value.Int || v instanceof Value.Bool) {
            return Value.asLong(v);
        }
        throw new EvalException(what + " needs an integer, got " + Value.typeName(v));
    }

    /** Positional argument {@code index} or keyword {@code name}; null when absent. */
    private static Value arg(List<Value> args, Map<String, Value> kwargs, int index, String name) {
        return index < args.size() ? args.get(index) : kwargs.get(name);
    }

    private static TaggedText string(Value v, String what) {
        if (v instanceof Value.Str s) {
            return s.text();
        }
        if (v instanceof Value.Undefined) {
            return TaggedText.EMPTY;
        }
        throw new EvalException("filter '" + what + "' needs a string, got " + Value.typeName(v));
    }

    private static List<Value> dictItems(Value.DictValue d) {
        List<Value> pairs = new ArrayList<>();
        d.entries().forEach((k, val) -> pairs.add(new Value.ListValue(List.of(Value.Str.of(k), val))));
        return pairs;
    }

    /** Python {@code str.strip([chars])}: whitespace ({@code str.isspace}) or the given characters. */
    static TaggedText strip(TaggedText s, Value chars, boolean left, boolean right) {
        String set = chars == null || chars instanceof Value.None ? null : stringArg(chars, "strip");
        String t = s.text();
        int from = 0, to = t.length();
        while (left && from < to && strippable(t.charAt(from), set)) {
            from++;
        }
        while (right && to > from && strippable(t.charAt(to - 1), set)) {
            to--;
        }
        return s.slice(from, to);
    }

    private static boolean strippable(char c, String set) {
        return set == null ? Lexer.isWhitespace(c) : set.indexOf(c) >= 0;
    }

    private static String stringArg(Value v, String what) {
        if (v instanceof Value.Str s) {
            return s.value();
        }
        throw new EvalException(what + " needs a string argument, got " + Value.typeName(v));
    }

    private static Value replace(TaggedText s, List<Value> args, Map<String, Value> kwargs) {
        Value oldV = arg(args, kwargs, 0, "old");
        Value newV = arg(args, kwargs, 1, "new");
        Value countV = arg(args, kwargs, 2, "count");
        if (oldV == null || newV == null) {
            throw new EvalException("replace() needs the old and new strings");
        }
        String old = stringArg(oldV, "replace");
        TaggedText replacement = Value.str(newV);
        long count = countV == null ? -1 : integer(countV, "replace");
        if (old.isEmpty()) {
            throw new EvalException("replace() with an empty search string is not supported");
        }
        TaggedText out = TaggedText.EMPTY;
        int pos = 0;
        String t = s.text();
        for (int done = 0; count < 0 || done < count; done++) {
            int i = t.indexOf(old, pos);
            if (i < 0) {
                break;
            }
            out = out.concat(s.slice(pos, i)).concat(replacement);
            pos = i + old.length();
        }
        return new Value.Str(out.concat(s.slice(pos, t.length())));
    }

    /** Python {@code str.split(sep=None, maxsplit=-1)}. */
    private static Value split(TaggedText s, Value sepV, Value maxV) {
        long max = maxV == null ? -1 : integer(maxV, "split");
        String t = s.text();
        List<Value> parts = new ArrayList<>();
        if (sepV == null || sepV instanceof Value.None) {
            int i = 0;
            while (true) {
                while (i < t.length() && Lexer.isWhitespace(t.charAt(i))) {
                    i++;
                }
                if (i >= t.length()) {
                    break;
                }
                if (max >= 0 && parts.size() == max) {
                    int end = t.length();
                    while (end > i && Lexer.isWhitespace(t.charAt(end - 1))) {
                        end--;
                    }
                    parts.add(new Value.Str(s.slice(i, end)));
                    break;
                }
                int j = i;
                while (j < t.length() && !Lexer.isWhitespace(t.charAt(j))) {
                    j++;
                }
                parts.add(new Value.Str(s.slice(i, j)));
                i = j;
            }
            return new Value.ListValue(parts);
        }
        String sep = stringArg(sepV, "split");
        if (sep.isEmpty()) {
            throw new EvalException("split() separator must not be empty");
        }
        int pos = 0;
        while (max < 0 || parts.size() < max) {
            int i = t.indexOf(sep, pos);
            if (i < 0) {
                break;
            }
            parts.add(new Value.Str(s.slice(pos, i)));
            pos = i + sep.length();
        }
        parts.add(new Value.Str(s.slice(pos, t.length())));
        return new Value.ListValue(parts);
    }

    /** Python {@code str.title()}: a letter after a letter is lowered, any other letter is uppercased. */
    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            sb.appendCodePoint(previousCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp));
            previousCased = Character.isLetter(cp);
            i += Character.charCount(cp);
        }
        return sb.toString();
    }

    /** Python {@code str.capitalize()}: first character uppercased, the rest lowered. */
    private static TaggedText capitalize(TaggedText s) {
        if (s.length() == 0) {
            return s;
        }
        int first = Character.charCount(s.text().codePointAt(0));
        return s.slice(0, first).mapRuns(String::toUpperCase).concat(s.slice(first, s.length()).mapRuns(String::toLowerCase));
    }

    private static Value toInt(Value v) {
        return switch (v) {
            case Value.Int i -> i;
            case Value.Bool b -> new Value.Int(b.value() ? 1 : 0);
            case Value.Flt f -> new Value.Int((long) f.value());
            case Value.Str s -> {
                try {
                    yield new Value.Int(Long.parseLong(s.value().strip()));
                } catch (NumberFormatException e) {
                    yield new Value.Int(0); // Jinja2's int filter returns its default, 0
                }
            }
            default -> new Value.Int(0);
        };
    }

    private static Value toFloat(Value v) {
        return switch (v) {
            case Value.Int i -> new Value.Flt(i.value());
            case Value.Bool b -> new Value.Flt(b.value() ? 1 : 0);
            case Value.Flt f -> f;
            case Value.Str s -> {
                try {
                    yield new Value.Flt(Double.parseDouble(s.value().strip()));
                } catch (NumberFormatException e) {
                    yield new Value.Flt(0);
                }
            }
            default -> new Value.Flt(0);
        };
    }
}
