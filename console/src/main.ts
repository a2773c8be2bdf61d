import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import 'element-plus/dist/index.css';
import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router';
import './styles.css';

dayjs.locale('zh-cn');
createApp(App).use(router).mount('#app');
