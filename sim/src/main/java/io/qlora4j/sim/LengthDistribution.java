package io.qlora4j.sim;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A distribution of sequence lengths (positions per sequence, what a batch's T is made of), written as
 * {@code --seq-lengths} accepts it:
 * <ul>
 *   <li>{@code fixed:512}: every sequence 512;</li>
 *   <li>{@code uniform:64-512}: uniform over the integers 64..512;</li>
 *   <li>{@code lognormal:median=200,sigma=0.8,max=2048}: exp(N(ln median, sigma²)) rounded, clamped to [1, max]
 *       (natural-language datasets are roughly log-normal in length);</li>
 *   <li>{@code longtail:short=64-256,long=2048,p=0.02}: with probability p a sequence is {@code long} (e.g. the context
 *       limit: the rare sample that makes the memory spike), otherwise uniform over the short range.</li>
 * </ul>
 */
public sealed interface LengthDistribution {

    int sample(SplittableRandom random);

    /** The largest length it can produce. */
    int max();

    /** The spec it was parsed from, normalized. */
    String spec();

    record Fixed(int length) implements LengthDistribution {
        public Fixed {
            positive("fixed", "length", length);
        }

        public int sample(SplittableRandom random) {
            return length;
        }

        public int max() {
            return length;
        }

        public String spec() {
            return "fixed:" + length;
        }
    }

    record Uniform(int min, int maxLength) implements LengthDistribution {
        public Uniform {
            positive("uniform", "min", min);
            if (maxLength < min) throw new SimulationException("uniform:" + min + "-" + maxLength + ": the range is empty (max < min)");
        }

        public int sample(SplittableRandom random) {
            return random.nextInt(min, maxLength + 1);
        }

        public int max() {
            return maxLength;
        }

        public String spec() {
            return "uniform:" + min + "-" + maxLength;
        }
    }

    record LogNormal(double median, double sigma, int maxLength) implements LengthDistribution {
        public LogNormal {
            if (!(median >= 1)) throw new SimulationException("lognormal: median must be >= 1, got " + median);
            if (!(sigma >= 0)) throw new SimulationException("lognormal: sigma must be >= 0, got " + sigma);
            positive("lognormal", "max", maxLength);
        }

        public int sample(SplittableRandom random) {
            double x = Math.exp(Math.log(median) + sigma * random.nextGaussian());
            return (int) Math.max(1, Math.min(maxLength, Math.round(x)));
        }

        public int max() {
            return maxLength;
        }

        public String spec() {
            return String.format(Locale.ROOT, "lognormal:median=%s,sigma=%s,max=%d", trim(median), trim(sigma), maxLength);
        }
    }

    record LongTail(Uniform body, int longLength, double probability) implements LengthDistribution {
        public LongTail {
            positive("longtail", "long", longLength);
            if (!(probability >= 0 && probability <= 1)) throw new SimulationException("longtail: p must be in [0, 1], got " + probability);
        }

        public int sample(SplittableRandom random) {
            return random.nextDouble() < probability ? longLength : body.sample(random);
        }

        public int max() {
            return Math.max(longLength, body.maxLength());
        }

        public String spec() {
            return "longtail:short=" + body.min() + "-" + body.maxLength() + ",long=" + longLength + ",p=" + trim(probability);
        }
    }

    /** Parses a spec; the error names the spec and shows the grammar. */
    static LengthDistribution parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        int colon = s.indexOf(':');
        if (colon < 0) throw grammar(spec, "no ':' after the distribution name");
        String kind = s.substring(0, colon);
        String args = s.substring(colon + 1);
        try {
            return switch (kind) {
                case "fixed" -> new Fixed(Integer.parseInt(args));
                case "uniform" -> range("uniform", args);
                case "lognormal" -> {
                    Map<String, String> kv = keyValues(spec, args, Set.of("median", "sigma", "max"));
                    yield new LogNormal(Double.parseDouble(kv.get("median")), Double.parseDouble(kv.get("sigma")),
                            Integer.parseInt(kv.get("max")));
                }
                case "longtail" -> {
                    Map<String, String> kv = keyValues(spec, args, Set.of("short", "long", "p"));
                    yield new LongTail(range("longtail short", kv.get("short")), Integer.parseInt(kv.get("long")),
                            Double.parseDouble(kv.get("p")));
                }
                default -> throw grammar(spec, "unknown distribution '" + kind + "'");
            };
        } catch (NumberFormatException e) {
            throw grammar(spec, "not a number (" + e.getMessage() + ")");
        } catch (SimulationException e) {
            if (e.getMessage().contains("'" + spec + "'")) throw e;
            throw new SimulationException("length distribution '" + spec + "': " + e.getMessage(), e);
        }
    }

    private static Uniform range(String what, String args) {
        String[] ends = args.split("-");
        if (ends.length != 2) throw new SimulationException(what + " range '" + args + "' must be MIN-MAX, e.g. 64-512");
        return new Uniform(Integer.parseInt(ends[0].trim()), Integer.parseInt(ends[1].trim()));
    }

    private static Map<String, String> keyValues(String spec, String args, Set<String> required) {
        Map<String, String> kv = new HashMap<>();
        for (String part : args.split(",")) {
            int eq = part.indexOf('=');
            if (eq < 0) throw grammar(spec, "'" + part + "' is not KEY=VALUE");
            String key = part.substring(0, eq).trim();
            if (!required.contains(key)) throw grammar(spec, "unknown key '" + key + "' (expected " + required + ")");
            kv.put(key, part.substring(eq + 1).trim());
        }
        for (String key : required) if (!kv.containsKey(key)) throw grammar(spec, "missing " + key + "=");
        return kv;
    }

    private static SimulationException grammar(String spec, String problem) {
        return new SimulationException("length distribution '" + spec + "': " + problem + ". Expected one of fixed:512, "
                + "uniform:64-512, lognormal:median=200,sigma=0.8,max=2048, longtail:short=64-256,long=2048,p=0.02, "
                + "or a dataset file");
    }

    private static void positive(String kind, String field, int value) {
        if (value < 1) throw new SimulationException(kind + ": " + field + " must be >= 1, got " + value);
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
