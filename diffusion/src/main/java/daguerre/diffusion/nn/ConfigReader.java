package daguerre.diffusion.nn;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/** Typed, strict access to a model's {@code config.json} object, with defaults for missing or null keys; every error names the key. */
public final class ConfigReader {

    private final JsonNode json;
    private final String what;

    /** @param what names the config in error messages, e.g. "unet config" */
    public ConfigReader(JsonNode json, String what) {
        if (json == null || !json.isObject()) {
            throw new IllegalArgumentException(what + ": expected a JSON object");
        }
        this.json = json;
        this.what = what;
    }

    private JsonNode get(String key) {
        JsonNode node = json.get(key);
        return node == null || node.isNull() ? null : node;
    }

    /** Fails if any of {@code keys} is present with a non-null value. */
    public void requireAbsent(String... keys) {
        for (String key : keys) {
            JsonNode node = get(key);
            if (node != null) {
                throw new IllegalArgumentException(what + ": unsupported option " + key + " = " + node
                        + " (not used by the supported Stable Diffusion 1.x/2.x/XL models)");
            }
        }
    }

    /** Fails if {@code key} is present with a value other than {@code supported} (a String, Boolean or Number). */
    public void requireValue(String key, Object supported) {
        JsonNode node = get(key);
        if (node == null) {
            return;
        }
        boolean ok;
        if (supported instanceof String s) {
            ok = node.isTextual() && node.textValue().equals(s);
        } else if (supported instanceof Boolean b) {
            ok = node.isBoolean() && node.booleanValue() == b;
        } else {
            ok = node.isNumber() && node.doubleValue() == ((Number) supported).doubleValue();
        }
        if (!ok) {
            throw new IllegalArgumentException(what + ": unsupported " + key + " = " + node + " (supported: " + supported + ")");
        }
    }

    /** The integer at {@code key}, or {@code fallback} when missing or null. */
    public int integer(String key, int fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.canConvertToInt() || !node.isIntegralNumber()) {
            throw new IllegalArgumentException(what + ": " + key + " must be an integer, got " + node);
        }
        return node.intValue();
    }

    /** The integer at {@code key}, which must be present. */
    public int requiredInteger(String key) {
        if (get(key) == null) {
            throw new IllegalArgumentException(what + ": required field " + key + " is missing");
        }
        return integer(key, 0);
    }

    /** The string at {@code key}, or {@code fallback} when missing or null. */
    public String string(String key, String fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.isTextual()) {
            throw new IllegalArgumentException(what + ": " + key + " must be a string, got " + node);
        }
        return node.textValue();
    }

    /** The number at {@code key}, or {@code fallback} when missing or null. */
    public double number(String key, double fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.isNumber()) {
            throw new IllegalArgumentException(what + ": " + key + " must be a number, got " + node);
        }
        return node.doubleValue();
    }

    /** The boolean at {@code key}, or {@code fallback} when missing or null. */
    public boolean bool(String key, boolean fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.isBoolean()) {
            throw new IllegalArgumentException(what + ": " + key + " must be true or false, got " + node);
        }
        return node.booleanValue();
    }

    /** The integer list at {@code key}, or {@code fallback} when missing or null. */
    public List<Integer> intList(String key, List<Integer> fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.isArray()) {
            throw new IllegalArgumentException(what + ": " + key + " must be a list of integers, got " + node);
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode item : node) {
            if (!item.isIntegralNumber() || !item.canConvertToInt()) {
                throw new IllegalArgumentException(what + ": " + key + " must be a list of integers, got " + node);
            }
            out.add(item.intValue());
        }
        return out;
    }

    /** The string list at {@code key}, or {@code fallback} when missing or null. */
    public List<String> stringList(String key, List<String> fallback) {
        JsonNode node = get(key);
        if (node == null) {
            return fallback;
        }
        if (!node.isArray()) {
            throw new IllegalArgumentException(what + ": " + key + " must be a list of strings, got " + node);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode item : node) {
            if (!item.isTextual()) {
                throw new IllegalArgumentException(what + ": " + key + " must be a list of strings, got " + node);
            }
            out.add(item.textValue());
        }
        return out;
    }

    // ------------------------------------------------------------ range checks shared by the config records

    /**
     * Fails unless {@code min <= value <= max}; the message names the config, the field and the value,
     * e.g. {@code unet config: layers_per_block = 0 is out of range (allowed 1..16)}.
     */
    public static int checkRange(String what, String key, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(what + ": " + key + " = " + value + " is out of range (allowed " + min + ".." + max + ")");
        }
        return (int) value;
    }

    /** Fails unless {@code value} is finite and {@code 0 < value < max} (exclusive bounds). */
    public static double checkPositiveFinite(String what, String key, double value, double max) {
        if (!Double.isFinite(value) || !(value > 0) || !(value < max)) {
            throw new IllegalArgumentException(what + ": " + key + " = " + value + " must be a finite number in (0, " + max + ")");
        }
        return value;
    }

    /** Fails unless {@code value} is finite. */
    public static double checkFinite(String what, String key, double value) {
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException(what + ": " + key + " = " + value + " must be a finite number");
        }
        return value;
    }

    /** Fails unless {@code divisor} divides {@code value}; both fields are named with their values. */
    public static void checkDivides(String what, String key, int value, String divisorKey, int divisor) {
        if (divisor <= 0 || value % divisor != 0) {
            throw new IllegalArgumentException(what + ": " + key + " = " + value + " is not a multiple of "
                    + divisorKey + " = " + divisor);
        }
    }

    /** Fails unless the list has {@code expected} entries, naming both fields. */
    public static void checkLength(String what, String key, int size, String otherKey, int expected) {
        if (size != expected) {
            throw new IllegalArgumentException(what + ": " + key + " has " + size + " entries but " + otherKey
                    + " has " + expected);
        }
    }
}
