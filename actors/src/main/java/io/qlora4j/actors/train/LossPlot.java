package io.qlora4j.actors.train;

import com.fasterxml.jackson.databind.JsonNode;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Renders the training and held-out loss curves of {@code metrics.jsonl} to a PNG (XChart, headless). */
final class LossPlot {
    private LossPlot() {
    }

    static void write(List<JsonNode> metrics, Path png, String title) {
        List<Double> steps = new ArrayList<>(), loss = new ArrayList<>(), evalSteps = new ArrayList<>(), evalLoss = new ArrayList<>();
        for (JsonNode m : metrics) {
            if (m.has("loss")) {
                steps.add(m.get("step").asDouble());
                loss.add(m.get("loss").asDouble());
            }
            if (m.has("eval_loss")) {
                evalSteps.add(m.get("step").asDouble());
                evalLoss.add(m.get("eval_loss").asDouble());
            }
        }
        XYChart chart = new XYChartBuilder().width(900).height(520).title(title).xAxisTitle("step").yAxisTitle("loss (nats/token)").build();
        chart.getStyler().setMarkerSize(4);
        if (!steps.isEmpty()) chart.addSeries("training loss", steps, loss).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        if (!evalSteps.isEmpty()) chart.addSeries("held-out loss", evalSteps, evalLoss).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        if (steps.isEmpty() && evalSteps.isEmpty()) chart.addSeries("no data", List.of(0.0), List.of(0.0));
        try {
            BitmapEncoder.saveBitmap(chart, png.toString().replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the loss plot " + png + ": " + e.getMessage(), e);
        }
    }
}
