import { describe, expect, it } from 'vitest';
import { render } from '@testing-library/svelte';
import Payload from './Payload.svelte';

describe('Payload', () => {
  it('shows a hostile payload as text, never as HTML', () => {
    const hostile = '<img src=x onerror=alert(1)>';
    const { container } = render(Payload, { props: { data: hostile } });
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('pre')?.textContent).toBe(hostile);
  });
  it('keeps markup inside JSON strings literal too', () => {
    const { container } = render(Payload, { props: { data: '{"msg":"<script>alert(1)</script>"}', truncated: true } });
    expect(container.querySelector('script')).toBeNull();
    expect(container.textContent).toContain('"msg": "<script>alert(1)</script>"');
    expect(container.textContent).toContain('(truncated)');
  });
});
