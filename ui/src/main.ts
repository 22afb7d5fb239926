import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { startTheme } from './lib/theme';

// Before mounting, so the first paint already has the chosen theme.
startTheme();

const target = document.getElementById('app');
if (!target) throw new Error('missing #app');
export default mount(App, { target });
