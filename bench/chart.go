package main

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// scenarioColors are colour-blind-safe (Okabe–Ito).
var scenarioColors = map[string]color.Color{
	"read":  color.RGBA{0, 114, 178, 255},
	"write": color.RGBA{230, 159, 0, 255},
	"login": color.RGBA{0, 158, 115, 255},
	"tabs":  color.RGBA{204, 121, 167, 255},
}

// drawChart draws, for every session size, requests per second and bytes sent to Redis per request
// of every subject in every scenario, from the report's own results.
func drawChart(rep report, path string) error {
	var sizes []int
	var scens []string
	for _, r := range rep.Results {
		if !containsInt(sizes, r.Fields) {
			sizes = append(sizes, r.Fields)
		}
		if !containsStr(scens, r.Scenario) {
			scens = append(scens, r.Scenario)
		}
	}
	subs := rep.Subjects
	// Horizontal bars count from the bottom: reverse, so the first subject is on top.
	labels := make([]string, len(subs))
	index := map[string]int{}
	for i, s := range subs {
		labels[len(subs)-1-i] = s.Label
		index[s.Key] = len(subs) - 1 - i
	}
	value := func(fields int, scenario string, f func(Result) float64) plotter.Values {
		v := make(plotter.Values, len(subs))
		for _, r := range rep.Results {
			if r.Fields == fields && r.Scenario == scenario {
				v[index[r.Subject]] = f(r)
			}
		}
		return v
	}
	ran := func(fields int, scenario string) []bool {
		v := make([]bool, len(subs))
		for _, r := range rep.Results {
			if r.Fields == fields && r.Scenario == scenario {
				v[index[r.Subject]] = true
			}
		}
		return v
	}

	const barW, labelSize = 7, 7
	rows := make([][]*plot.Plot, len(sizes))
	for i, fields := range sizes {
		tp := plot.New()
		tp.Title.Text = fmt.Sprintf("Throughput, %d-field session (req/s, higher is better)", fields)
		tp.X.Min = 0
		tp.X.Tick.Marker = plot.TickerFunc(niceTicks)
		bp := plot.New()
		bp.Title.Text = fmt.Sprintf("Bytes sent to Redis per request, %d-field session (log, lower is better)", fields)
		bp.X.Min, bp.X.Max = 0, 5
		bp.X.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
			names := []string{"1 B", "10 B", "100 B", "1 KB", "10 KB", "100 KB", "1 MB"}
			var ticks []plot.Tick
			for e := 0; e <= int(math.Ceil(max)) && e < len(names); e++ {
				ticks = append(ticks, plot.Tick{Value: float64(e), Label: names[e]})
				for m := 2; m < 10 && e < int(math.Ceil(max)); m++ {
					ticks = append(ticks, plot.Tick{Value: float64(e) + math.Log10(float64(m))})
				}
			}
			return ticks
		})
		for j, sc := range scens {
			off := vg.Points(float64(barW) * (float64(len(scens)-1)/2 - float64(j)))
			tv := value(fields, sc, func(r Result) float64 { return r.RPS })
			tb, err := plotter.NewBarChart(tv, vg.Points(barW))
			if err != nil {
				return err
			}
			bv := value(fields, sc, func(r Result) float64 {
				if r.BytesToRedisPerReq < 1 {
					return 0
				}
				return math.Log10(r.BytesToRedisPerReq)
			})
			bb, err := plotter.NewBarChart(bv, vg.Points(barW))
			if err != nil {
				return err
			}
			for _, b := range []*plotter.BarChart{tb, bb} {
				b.Horizontal, b.Offset, b.Color = true, off, scenarioColors[sc]
				b.LineStyle.Width = 0
			}
			tp.Add(tb)
			bp.Add(bb)
			tp.Legend.Add(sc, tb)
			bp.Legend.Add(sc, bb)
			// Each bar is labelled with its value, at its end.
			tl, err := barLabels(tv, nil, func(v float64) string { return fmt.Sprintf("%.0f", v) }, off, labelSize)
			if err != nil {
				return err
			}
			bl, err := barLabels(bv, ran(fields, sc), func(v float64) string {
				if v == 0 {
					return "0 B"
				}
				return formatBytes(math.Pow(10, v))
			}, off, labelSize)
			if err != nil {
				return err
			}
			tp.Add(tl)
			bp.Add(bl)
		}
		for _, p := range []*plot.Plot{tp, bp} {
			p.NominalY(labels...)
			p.Add(plotter.NewGrid())
			p.Legend.Top, p.Legend.Left = true, false
			p.Title.TextStyle.Font.Size = vg.Points(11)
			// An empty row on top holds the legend.
			p.Y.Min, p.Y.Max = -0.6, float64(len(subs))+0.4
			p.X.Max *= 1.08 // room for the labels
		}
		bp.X.Max = math.Max(bp.X.Max, 5)
		rows[i] = []*plot.Plot{tp, bp}
	}
	w := 15 * vg.Inch
	h := vg.Points(float64(len(subs)*(len(scens)*barW+12) + 110))
	img := vgimg.NewWith(vgimg.UseWH(w, vg.Length(len(sizes))*h), vgimg.UseDPI(96))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: len(sizes), Cols: 2, PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8),
		PadRight: vg.Points(12), PadX: vg.Points(24), PadY: vg.Points(24)}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		for j := range rows[i] {
			rows[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// barLabels labels the bars of one scenario's horizontal bar chart: the non-zero ones, and the zero
// ones of subjects that ran it when ran is given.
func barLabels(v plotter.Values, ran []bool, format func(float64) string, off vg.Length, size float64) (*plotter.Labels, error) {
	var xy plotter.XYLabels
	for i, x := range v {
		if x == 0 && (ran == nil || !ran[i]) {
			continue
		}
		xy.XYs = append(xy.XYs, plotter.XY{X: x, Y: float64(i)})
		xy.Labels = append(xy.Labels, format(x))
	}
	l, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, err
	}
	l.Offset = vg.Point{X: vg.Points(3), Y: off - vg.Points(size/2)}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Size = vg.Points(size)
	}
	return l, nil
}

func formatBytes(b float64) string {
	switch {
	case b >= 10<<10:
		return fmt.Sprintf("%.0f KB", b/1024)
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KB", b/1024)
	}
	return fmt.Sprintf("%.0f B", b)
}

// niceTicks marks 0 to max in about five round steps.
func niceTicks(min, max float64) []plot.Tick {
	if max <= min {
		return nil
	}
	raw := (max - min) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f", v)})
	}
	return ticks
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
