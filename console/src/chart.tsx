// A time-series chart (uPlot): one line per series over shared x values (unix seconds).
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

const COLORS = ['#3b82f6', '#ef4444', '#10b981', '#f59e0b', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];

export function Chart({ title, x, series, height = 220 }: { title: string; x: number[]; series: { label: string; values: (number | null)[] }[]; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(280, el.current.clientWidth || 600);
    const plot = new uPlot(
      {
        title,
        width,
        height,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2 }))],
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor' }],
      },
      [x, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    const onResize = () => plot.setSize({ width: Math.max(280, el.current?.clientWidth ?? width), height });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.destroy();
    };
  }, [title, x, series, height]);
  return <div ref={el} className="chart" role="img" aria-label={`${title} chart`} />;
}
