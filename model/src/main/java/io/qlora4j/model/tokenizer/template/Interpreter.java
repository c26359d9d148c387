package io.qlora4j.model.tokenizer.template;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Executes a parsed template (a tree-walking interpreter with Jinja2's scoping: a {@code for} body gets a new scope
 * per iteration, {@code if} does not create one) and writes the output with its tags. Every tagged range written is
 * recorded as a {@link Template.Mark} together with the serial number of the loop iteration that wrote it, which is
 * how the chat renderer knows which end-of-turn marker belongs to which message.
 */
final class Interpreter {
    private enum Flow { NORMAL, BREAK, CONTINUE }

    /** Variables of one scope; lookups fall back to the parent. */
    private static final class Scope {
        final Scope parent;
        final Map<String, Value> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }

        Value lookup(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                Value v = s.vars.get(name);
                if (v != null) {
                    return v;
                }
            }
            return null;
        }
    }

    private final Source source;
    private StringBuilder out = new StringBuilder();
    private List<Template.Mark> marks = new ArrayList<>();
    private Scope scope;
    private final Deque<Integer> iterations = new ArrayDeque<>(); // serials of the enclosing loop iterations
    private int iterationCount;

    Interpreter(Source source, Map<String, Value> globals) {
        this.source = source;
        this.scope = new Scope(null);
        scope.vars.putAll(globals);
    }

    Template.Rendered run(List<Node> body) {
        Flow flow = execute(body);
        assert flow == Flow.NORMAL : "loop control outside a loop is rejected when it runs";
        return new Template.Rendered(out.toString(), List.copyOf(marks));
    }

    // ---- statements

    private Flow execute(List<Node> nodes) {
        for (Node node : nodes) {
            Flow flow = execute(node);
            if (flow != Flow.NORMAL) {
                return flow;
            }
        }
        return Flow.NORMAL;
    }

    private Flow execute(Node node) {
        switch (node) {
            case Node.Text t -> emit(t.text());
            case Node.Output o -> emit(Value.str(eval(o.expr())));
            case Node.If i -> {
                for (Node.Branch b : i.branches()) {
                    if (Value.truthy(eval(b.test()))) {
                        return execute(b.body());
                    }
                }
                return execute(i.orElse());
            }
            case Node.For f -> {
                return executeFor(f);
            }
            case Node.Set s -> assign(s);
            case Node.SetBlock s -> {
                StringBuilder savedOut = out;
                List<Template.Mark> savedMarks = marks;
                out = new StringBuilder();
                marks = new ArrayList<>();
                Flow flow = execute(s.body());
                List<TaggedText.Tag> tags = marks.stream()
                        .map(m -> new TaggedText.Tag(m.start(), m.end(), m.kind(), m.messageIndex())).toList();
                scope.vars.put(s.name(), new Value.Str(TaggedText.of(out.toString(), tags)));
                out = savedOut;
                marks = savedMarks;
                return flow;
            }
            case Node.LoopControl c -> {
                if (iterations.isEmpty()) {
                    throw source.error(c.offset(), "'{% " + (c.isBreak() ? "break" : "continue") + " %}' outside a loop");
                }
                return c.isBreak() ? Flow.BREAK : Flow.CONTINUE;
            }
            case Node.Generation g -> {
                return execute(g.body());
            }
        }
        return Flow.NORMAL;
    }

    private void assign(Node.Set s) {
        Value value = eval(s.value());
        if (s.attribute() == null) {
            scope.vars.put(s.name(), value);
            return;
        }
        Value target = scope.lookup(s.name());
        if (!(target instanceof Value.Namespace ns)) {
            throw source.error(s.offset(), "cannot set attribute '" + s.attribute() + "' of '" + s.name() + "': it is "
                    + (target == null ? "undefined" : Value.typeName(target)) + ", not a namespace()");
        }
        ns.attributes().put(s.attribute(), value);
    }

    private Flow executeFor(Node.For f) {
        List<Value> items = evalItems(f.iterable());
        Scope outer = scope;
        if (f.filter() != null) {
            List<Value> kept = new ArrayList<>();
            for (Value item : items) {
                scope = new Scope(outer);
                bindTargets(f, item);
                if (Value.truthy(eval(f.filter()))) {
                    kept.add(item);
                }
                scope = outer;
            }
            items = kept;
        }
        if (items.isEmpty()) {
            return execute(f.orElse());
        }
        try {
            for (int i = 0; i < items.size(); i++) {
                scope = new Scope(outer);
                bindTargets(f, items.get(i));
                scope.vars.put("loop", loopInfo(items, i));
                iterations.push(++iterationCount);
                Flow flow;
                try {
                    flow = execute(f.body());
                } finally {
                    iterations.pop();
                }
                if (flow == Flow.BREAK) {
                    break;
                }
            }
        } finally {
            scope = outer;
        }
        return Flow.NORMAL;
    }

    private List<Value> evalItems(Expr iterable) {
        Value v = eval(iterable);
        try {
            return Builtins.items(v, "for loop");
        } catch (EvalException e) {
            throw source.error(iterable.offset(), e.getMessage());
        }
    }

    private void bindTargets(Node.For f, Value item) {
        if (f.targets().size() == 1) {
            scope.vars.put(f.targets().getFirst(), item);
            return;
        }
        if (!(item instanceof Value.ListValue l) || l.items().size() != f.targets().size()) {
            throw source.error(f.offset(), "cannot unpack " + Value.typeName(item) + " into " + f.targets().size()
                    + " loop variables " + f.targets());
        }
        for (int k = 0; k < f.targets().size(); k++) {
            scope.vars.put(f.targets().get(k), l.items().get(k));
        }
    }

    private static Value loopInfo(List<Value> items, int i) {
        Map<String, Value> loop = new LinkedHashMap<>();
        int n = items.size();
        loop.put("index", new Value.Int(i + 1));
        loop.put("index0", new Value.Int(i));
        loop.put("revindex", new Value.Int(n - i));
        loop.put("revindex0", new Value.Int(n - i - 1));
        loop.put("first", Value.bool(i == 0));
        loop.put("last", Value.bool(i == n - 1));
        loop.put("length", new Value.Int(n));
        loop.put("previtem", i > 0 ? items.get(i - 1) : new Value.Undefined("loop.previtem"));
        loop.put("nextitem", i + 1 < n ? items.get(i + 1) : new Value.Undefined("loop.nextitem"));
        return new Value.DictValue(loop);
    }

    private void emit(TaggedText text) {
        int base = out.length();
        out.append(text.text());
        int iteration = iterations.isEmpty() ? 0 : iterations.peek();
        for (TaggedText.Tag t : text.tags()) {
            marks.add(new Template.Mark(base + t.start(), base + t.end(), t.kind(), t.messageIndex(), iteration));
        }
    }

    // ---- expressions

    private Value eval(Expr e) {
        try {
            return evalUnchecked(e);
        } catch (EvalException x) {
            throw source.error(e.offset(), x.getMessage());
        }
    }

    private Value evalUnchecked(Expr e) {
        return switch (e) {
            case Expr.Literal l -> l.value();
            case Expr.Name n -> {
                Value v = scope.lookup(n.name());
                yield v != null ? v : new Value.Undefined(n.name());
            }
            case Expr.ListExpr l -> new Value.ListValue(l.items().stream().map(this::eval).toList());
            case Expr.DictExpr d -> {
                Map<String, Value> entries = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Value key = eval(d.keys().get(i));
                    if (!(key instanceof Value.Str k)) {
                        throw new EvalException("dict keys must be strings, got " + Value.typeName(key));
                    }
                    entries.put(k.value(), eval(d.values().get(i)));
                }
                yield new Value.DictValue(entries);
            }
            case Expr.Attribute a -> attribute(eval(a.target()), a.name(), a.target());
            case Expr.Index i -> index(eval(i.target()), eval(i.index()), i.target());
            case Expr.Slice s -> slice(eval(s.target()), optional(s.start()), optional(s.stop()), optional(s.step()));
            case Expr.Call c -> call(c);
            case Expr.Filter f -> Builtins.filter(f.name(), eval(f.target()), evalAll(f.args()), evalAll(f.kwargs()));
            case Expr.Test t -> Value.bool(Builtins.test(t.name(), eval(t.target()), evalAll(t.args())) != t.negated());
            case Expr.Unary u -> unary(u.op(), eval(u.operand()));
            case Expr.Binary b -> Operators.binary(b.op(), eval(b.left()), eval(b.right()));
            case Expr.Logical l -> {
                Value left = eval(l.left());
                yield Value.truthy(left) == l.isAnd() ? eval(l.right()) : left;
            }
            case Expr.Compare c -> {
                Value left = eval(c.first());
                for (int i = 0; i < c.ops().size(); i++) {
                    Value right = eval(c.rest().get(i));
                    if (!Operators.compare(c.ops().get(i), left, right)) {
                        yield Value.FALSE;
                    }
                    left = right;
                }
                yield Value.TRUE;
            }
            case Expr.Conditional c -> Value.truthy(eval(c.test())) ? eval(c.then())
                    : c.orElse() == null ? new Value.Undefined("") : eval(c.orElse());
        };
    }

    private Value optional(Expr e) {
        return e == null ? Value.NONE : eval(e);
    }

    private List<Value> evalAll(List<Expr> exprs) {
        return exprs.stream().map(this::eval).toList();
    }

    private Map<String, Value> evalAll(Map<String, Expr> exprs) {
        Map<String, Value> values = new LinkedHashMap<>();
        exprs.forEach((k, v) -> values.put(k, eval(v)));
        return values;
    }

    private Value call(Expr.Call c) {
        if (c.callee() instanceof Expr.Attribute a) {
            return Builtins.method(eval(a.target()), a.name(), evalAll(c.args()), evalAll(c.kwargs()));
        }
        if (c.callee() instanceof Expr.Name n && scope.lookup(n.name()) == null) {
            List<Value> args = evalAll(c.args());
            if (n.name().equals("raise_exception")) {
                String message = args.isEmpty() ? "" : Value.str(args.getFirst()).text();
                throw source.error(c.offset(), "raise_exception: " + message);
            }
            return Builtins.function(n.name(), args, evalAll(c.kwargs()));
        }
        throw new EvalException(describe(c.callee()) + " is not callable");
    }

    private static String describe(Expr e) {
        return switch (e) {
            case Expr.Name n -> "'" + n.name() + "'";
            case Expr.Attribute a -> describe(a.target()) + "." + a.name();
            default -> "this expression";
        };
    }

    private static Value attribute(Value target, String name, Expr targetExpr) {
        return switch (target) {
            case Value.DictValue d -> d.entries().getOrDefault(name, new Value.Undefined(name));
            case Value.Namespace ns -> ns.attributes().getOrDefault(name, new Value.Undefined(name));
            case Value.Undefined u -> throw new EvalException(describe(targetExpr) + " is undefined (reading ." + name + ")");
            case Value.None n -> throw new EvalException(describe(targetExpr) + " is None (reading ." + name + ")");
            default -> new Value.Undefined(name);
        };
    }

    private static Value index(Value target, Value key, Expr targetExpr) {
        return switch (target) {
            case Value.DictValue d -> key instanceof Value.Str k
                    ? d.entries().getOrDefault(k.value(), new Value.Undefined(k.value())) : new Value.Undefined("");
            case Value.ListValue l -> {
                if (!(key instanceof Value.Int || key instanceof Value.Bool)) {
                    throw new EvalException("list indices must be integers, got " + Value.typeName(key));
                }
                long i = Value.asLong(key);
                long n = l.items().size();
                long at = i < 0 ? i + n : i;
                yield at >= 0 && at < n ? l.items().get((int) at) : new Value.Undefined(describe(targetExpr) + "[" + i + "]");
            }
            case Value.Str s -> {
                if (!(key instanceof Value.Int || key instanceof Value.Bool)) {
                    throw new EvalException("string indices must be integers, got " + Value.typeName(key));
                }
                List<Value> chars = Builtins.items(s, "index");
                long i = Value.asLong(key);
                long at = i < 0 ? i + chars.size() : i;
                yield at >= 0 && at < chars.size() ? chars.get((int) at) : new Value.Undefined("");
            }
            case Value.Undefined u -> throw new EvalException(describe(targetExpr) + " is undefined (indexing it)");
            default -> throw new EvalException(Value.typeName(target) + " is not subscriptable");
        };
    }

    /** Python slicing of lists and strings ({@code slice.indices}). */
    private static Value slice(Value target, Value start, Value stop, Value step) {
        List<Value> items = switch (target) {
            case Value.ListValue l -> l.items();
            case Value.Str s -> Builtins.items(s, "slice");
            default -> throw new EvalException(Value.typeName(target) + " cannot be sliced");
        };
        int n = items.size();
        long st = step instanceof Value.None ? 1 : Builtins.integer(step, "slice step");
        if (st == 0) {
            throw new EvalException("slice step cannot be zero");
        }
        long lo = bound(start, st > 0 ? 0 : n - 1, n, st);
        long hi = bound(stop, st > 0 ? n : -1, n, st);
        List<Value> out = new ArrayList<>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) {
            out.add(items.get((int) i));
        }
        if (target instanceof Value.Str) {
            TaggedText text = TaggedText.EMPTY;
            for (Value c : out) {
                text = text.concat(((Value.Str) c).text());
            }
            return new Value.Str(text);
        }
        return new Value.ListValue(out);
    }

    private static long bound(Value v, long fallback, int n, long step) {
        if (v instanceof Value.None) {
            return fallback;
        }
        long i = Builtins.integer(v, "slice index");
        if (i < 0) {
            i += n;
            if (i < 0) {
                i = step > 0 ? 0 : -1;
            }
        } else if (i >= n) {
            i = step > 0 ? n : n - 1;
        }
        return i;
    }

    private static Value unary(String op, Value v) {
        if (op.equals("not")) {
            return Value.bool(!Value.truthy(v));
        }
        if (v instanceof Value.Int i) {
            return op.equals("-") ? new Value.Int(Math.negateExact(i.value())) : i;
        }
        if (v instanceof Value.Flt f) {
            return op.equals("-") ? new Value.Flt(-f.value()) : f;
        }
        if (v instanceof Value.Bool b) {
            return new Value.Int(op.equals("-") ? -(b.value() ? 1 : 0) : (b.value() ? 1 : 0));
        }
        throw new EvalException("bad operand type for unary " + op + ": " + Value.typeName(v));
    }
}
