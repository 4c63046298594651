package daguerre.diffusion.lora;

import daguerre.diffusion.pipeline.InvalidRequestException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A1111's extra-network syntax for LoRAs in prompts: {@code <lora:name>}, {@code <lora:name:w>},
 * {@code <lora:name:te:unet>}, and the named forms {@code te=w} / {@code unet=w}
 * ({@code <lora:name:te=0.5:unet=1>}); {@code lyco} is read as {@code lora}, as A1111 does since 1.5.
 * The tags are removed from the text before it is tokenized; other text in angle brackets is left alone.
 */
public final class LoraTags {

    /** A1111's {@code re_extra_net}, for the network types handled here. */
    private static final Pattern TAG = Pattern.compile("<(lora|lyco):([^>]+)>");

    /** A1111's default multiplier when a tag gives none. */
    public static final double DEFAULT_WEIGHT = 1.0;

    private LoraTags() {}

    /** The LoRAs {@code prompt}'s tags ask for, in order; an error naming {@code field} for a malformed tag. */
    public static List<RequestedLora> parse(String prompt, String field) {
        List<RequestedLora> loras = new ArrayList<>();
        Matcher m = TAG.matcher(prompt);
        while (m.find()) {
            loras.add(parseTag(m.group(0), m.group(2), field));
        }
        return loras;
    }

    /** {@code prompt} without its LoRA tags: the text the tokenizer sees. */
    public static String strip(String prompt) {
        return TAG.matcher(prompt).replaceAll("");
    }

    private static RequestedLora parseTag(String tag, String body, String field) {
        String[] parts = body.split(":", -1);
        String name = parts[0].strip();
        if (name.isEmpty()) {
            throw new InvalidRequestException(field, field + " has a LoRA tag without a name: " + tag);
        }
        List<Double> positional = new ArrayList<>();
        Double te = null;
        Double unet = null;
        for (int i = 1; i < parts.length; i++) {
            String part = parts[i].strip();
            int eq = part.indexOf('=');
            if (eq < 0) {
                positional.add(number(part, tag, field));
            } else {
                String key = part.substring(0, eq).strip();
                double value = number(part.substring(eq + 1), tag, field);
                switch (key) {
                    case "te" -> te = value;
                    case "unet" -> unet = value;
                    default -> throw new InvalidRequestException(field, field + " has a LoRA tag with an unknown argument '"
                            + key + "' (known: te, unet): " + tag);
                }
            }
        }
        if (positional.size() > 2) {
            throw new InvalidRequestException(field, field + " has a LoRA tag with more than two weights: " + tag
                    + " (<lora:name:weight> or <lora:name:te_weight:unet_weight>)");
        }
        double textEncoder = te != null ? te : !positional.isEmpty() ? positional.get(0) : DEFAULT_WEIGHT;
        double unetWeight = unet != null ? unet : positional.size() > 1 ? positional.get(1) : textEncoder;
        return new RequestedLora(name, textEncoder, unetWeight);
    }

    private static double number(String text, String tag, String field) {
        try {
            return Double.parseDouble(text.strip());
        } catch (NumberFormatException e) {
            throw new InvalidRequestException(field, field + " has a LoRA tag whose weight '" + text.strip()
                    + "' is not a number: " + tag);
        }
    }
}
