package daguerre.diffusion.lora;

import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDManager;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.weights.Golden;
import daguerre.weights.lora.LoraNetwork;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The {@code lora_tiny} golden case: its base U-Net and text encoder (the cases its README names),
 * and its LoRA files ({@code <stem>_<kohya|diffusers>.safetensors}).
 */
final class TinyLoraCase {

    static final String CASE = "lora_tiny";

    private static final Pattern LORA_FILE = Pattern.compile("(.+)_(kohya|diffusers)\\.safetensors");

    private TinyLoraCase() {}

    /** The case folder the README names for the base model part ({@code U-Net of `../unet_tiny`}). */
    static String baseCase(String what) {
        try {
            String readme = Files.readString(Golden.file(CASE, "README.md"));
            Matcher m = Pattern.compile(Pattern.quote(what) + " of `\\.\\./([^`/]+)`").matcher(readme);
            if (!m.find()) {
                fail(CASE + "/README.md does not name the " + what + " case (\"" + what + " of `../NAME`\")");
            }
            return m.group(1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String unetCase() {
        return baseCase("U-Net");
    }

    static String textCase() {
        return baseCase("text encoder");
    }

    /** The case's LoRA files, by name. */
    static List<String> loraFiles() {
        try (Stream<Path> files = Files.list(Golden.caseDir(CASE))) {
            List<String> names = files.map(p -> p.getFileName().toString()).filter(n -> LORA_FILE.matcher(n).matches()).sorted().toList();
            if (names.isEmpty()) {
                fail(CASE + " has no <stem>_<kohya|diffusers>.safetensors files");
            }
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code lora} of {@code lora_kohya.safetensors}: the prefix of the outputs made with that file. */
    static String stem(String fileName) {
        Matcher m = LORA_FILE.matcher(fileName);
        if (!m.matches()) {
            throw new IllegalArgumentException(fileName);
        }
        return m.group(1);
    }

    /** The base networks, loaded into {@code manager} in {@code precision}. */
    static Map<LoraNetwork, Module> loadBase(NDManager manager, WeightPrecision precision) throws IOException {
        UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.fromJson(Golden.json(unetCase(), "config.json")));
        ClipTextModel text = new ClipTextModel(ClipTextConfig.load(Golden.file(textCase(), "config.json")));
        try (SafetensorsFile unetWeights = Golden.tensors(unetCase(), "unet_diffusers.safetensors");
             SafetensorsFile textWeights = Golden.tensors(textCase(), "text_encoder_transformers.safetensors")) {
            WeightLoader.load(unet, unetWeights, "", manager, precision);
            text.load(textWeights, "", manager, precision);
        }
        Map<LoraNetwork, Module> networks = new EnumMap<>(LoraNetwork.class);
        networks.put(LoraNetwork.UNET, unet);
        networks.put(LoraNetwork.TEXT_ENCODER, text);
        return networks;
    }
}
