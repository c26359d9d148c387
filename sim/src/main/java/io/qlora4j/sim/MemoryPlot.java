package io.qlora4j.sim;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The PNG of a simulated run: device memory per step stacked by component (at each step's largest micro-batch), the
 * budget as a line, and a marker on every step that runs out of memory (its bar shows what it asked for). Each step is
 * drawn as a flat segment one step wide, so the stack reads like bars.
 */
public final class MemoryPlot {
    private static final int WIDTH = 1200;
    private static final int HEIGHT = 700;

    private MemoryPlot() {
    }

    public static void write(SimulationResult result, Path png) {
        TrainingSetup setup = result.config().setup();
        String training = setup.fullFinetune() ? "full fine-tuning" : setup.quant().cliName() + ", r=" + setup.rank();
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(setup.modelName() + " on " + result.config().gpu().name() + " (" + training + ", "
                        + setup.optimizer().cliName() + (result.config().paging() ? "" : ", no paging") + "): "
                        + result.trace().source())
                .xAxisTitle("step (memory at its largest micro-batch)").yAxisTitle("device memory (GB)").build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Area);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setChartBackgroundColor(Color.WHITE).setPlotBackgroundColor(Color.WHITE)
                .setLegendPosition(Styler.LegendPosition.OutsideE).setMarkerSize(12);
        List<StepRecord> steps = result.steps();
        List<Component> present = new ArrayList<>();
        for (Component c : Component.values()) {
            if (steps.stream().anyMatch(s -> s.atPeak().getOrDefault(c, 0L) > 0)) present.add(c);
        }
        double[] x = new double[2 * Math.max(steps.size(), 1)];
        for (int i = 0; i < steps.size(); i++) {
            x[2 * i] = steps.get(i).step() - 0.5;
            x[2 * i + 1] = steps.get(i).step() + 0.5;
        }
        // Areas fill down to zero: draw the running totals from the top component down so each covers the ones above it.
        for (int top = present.size() - 1; top >= 0; top--) {
            double[] y = new double[x.length];
            for (int i = 0; i < steps.size(); i++) {
                long sum = 0;
                for (int c = 0; c <= top; c++) sum += steps.get(i).atPeak().getOrDefault(present.get(c), 0L);
                y[2 * i] = y[2 * i + 1] = sum / 1e9;
            }
            Color color = color(present.get(top));
            XYSeries s = chart.addSeries(present.get(top).label(), x, y);
            s.setMarker(SeriesMarkers.NONE).setLineWidth(2f).setLineColor(color);
            s.setFillColor(color);
        }
        double budget = result.budgetBytes() / 1e9;
        XYSeries line = chart.addSeries("budget " + Units.bytes(result.budgetBytes()),
                new double[]{x[0], x[x.length - 1]}, new double[]{budget, budget});
        line.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line).setMarker(SeriesMarkers.NONE).setLineColor(Color.RED)
                .setLineStyle(new BasicStroke(2.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[]{8, 6}, 0));
        List<StepRecord> oom = result.outOfMemorySteps();
        if (!oom.isEmpty()) {
            XYSeries marks = chart.addSeries("out of memory", oom.stream().mapToDouble(StepRecord::step).toArray(),
                    oom.stream().mapToDouble(s -> s.atPeakTotal() / 1e9).toArray());
            marks.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter).setMarker(SeriesMarkers.CROSS).setMarkerColor(Color.RED);
        }
        write(chart, png);
    }

    private static void write(XYChart chart, Path png) {
        try (OutputStream out = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png + ": " + e.getMessage(), e);
        }
    }

    /** Weights and state in cool colors, activations in warm ones. */
    private static Color color(Component c) {
        return switch (c) {
            case BASE_WEIGHTS -> new Color(55, 65, 85);
            case EMBEDDINGS_AND_NORMS -> new Color(115, 125, 145);
            case LORA_PARAMETERS -> new Color(70, 130, 180);
            case GRADIENTS -> new Color(140, 180, 220);
            case OPTIMIZER_STATE -> new Color(90, 160, 90);
            case SAVED_ACTIVATIONS -> new Color(235, 150, 55);
            case RECOMPUTED_BLOCK -> new Color(245, 195, 95);
            case ATTENTION_SCORES -> new Color(150, 90, 180);
            case LORA_ACTIVATIONS -> new Color(235, 120, 170);
            case LOGITS_AND_LOSS -> new Color(165, 110, 70);
            case BACKWARD_SCRATCH -> new Color(250, 225, 120);
            case DEQUANT_TEMPORARIES -> new Color(110, 195, 195);
        };
    }
}
