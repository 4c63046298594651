package daguerre.diffusion.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.InvalidRequestException;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.weights.Golden;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.model.ModelHasher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The LoRA folder: lookup by name below it or by path, pickle files refused, an LRU cache bounded by bytes. */
class LoraLibraryTest {

    @TempDir
    Path temp;

    @Test
    void cachesLeastRecentlyUsedFirstOutWithinItsBytesAndLooksUpByNameOrPath() throws IOException {
        assumeTrue(TinyLoraCase.unetCase().equals("unet_tiny") && TinyLoraCase.textCase().equals("clip_text_tiny"),
                "lora_tiny is for other base cases than the tiny model folder's");
        Path folder = Files.createDirectories(temp.resolve("loras/deeper"));
        Path source = Golden.file(TinyLoraCase.CASE, "lora_kohya.safetensors");
        Files.copy(source, folder.resolve("first.safetensors"));
        Files.copy(source, temp.resolve("loras/second.safetensors"));
        Files.write(temp.resolve("loras/old.pt"), new byte[] {1});
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            long one = LoraMerger.read(source, model).byteSize();
            LoraLibrary library = new LoraLibrary(temp.resolve("loras"), one + one / 2, new ModelHasher());
            assertEquals(List.of("first", "second"), library.list().stream().map(LoraLibrary.Entry::name).sorted().toList());

            LoraFile first = library.load("first", model);
            assertSame(first, library.load("first", model), "a cached LoRA is read again");
            assertEquals(one, library.cachedBytes());
            LoraFile second = library.load("second", model);   // over the bound: "first" goes
            assertEquals(one, library.cachedBytes());
            assertSame(second, library.load("second", model));
            assertNotSame(first, library.load("first", model), "the least recently used LoRA was kept");
            assertTrue(library.cachedBytes() <= one + one / 2);

            LoraLibrary none = new LoraLibrary(temp.resolve("loras"), 0, new ModelHasher());
            assertNotSame(none.load("first", model), none.load("first", model));
            assertEquals(0, none.cachedBytes());

            assertEquals(folder.resolve("first.safetensors").toAbsolutePath(), library.resolve("first"), "found below the folder");
            assertEquals(source.toAbsolutePath().normalize(), library.resolve(source.toString()), "a path is taken as it is");
            InvalidRequestException pickle = assertThrows(InvalidRequestException.class, () -> library.resolve(temp.resolve("loras/old.pt").toString()));
            assertTrue(pickle.getMessage().contains("pickle"), pickle.getMessage());
            InvalidRequestException unknown = assertThrows(InvalidRequestException.class, () -> library.resolve("third"));
            assertTrue(unknown.getMessage().contains("first, second"), unknown.getMessage());
        }
    }

    /** Runtime LoRAs never touch the weights: every weight is bit-identical after generations with and without them. */
    @Test
    void generationsWithLorasLeaveEveryWeightAsItWas() throws IOException {
        assumeTrue(TinyLoraCase.unetCase().equals("unet_tiny") && TinyLoraCase.textCase().equals("clip_text_tiny"),
                "lora_tiny is for other base cases than the tiny model folder's");
        Path folder = Files.createDirectories(temp.resolve("loras"));
        for (String file : TinyLoraCase.loraFiles()) {
            Files.copy(Golden.file(TinyLoraCase.CASE, file), folder.resolve(file));
        }
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            Map<String, float[]> before = new LinkedHashMap<>();
            LoraMerger.networks(model).forEach((network, module) -> module.namedParameters()
                    .forEach((key, p) -> before.put(network + " " + key, p.floats())));
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, VaeTiling.OFF,
                    new LoraLibrary(folder, 1 << 30, new ModelHasher()));
            StringBuilder tags = new StringBuilder("a red apple");
            for (String file : TinyLoraCase.loraFiles()) {
                tags.append(" <lora:").append(file.replace(".safetensors", "")).append(":0.7>");
            }
            pipeline.generate(GenerationRequest.builder(tags.toString()).steps(3).build(), GenerationListener.NONE, () -> false);
            LoraMerger.networks(model).forEach((network, module) -> {
                for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet()) {
                    assertTrue(Arrays.equals(before.get(network + " " + e.getKey()), e.getValue().floats()),
                            network + " " + e.getKey() + " changed");
                }
            });
        }
    }
}
